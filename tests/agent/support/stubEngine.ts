import { randomBytes } from 'node:crypto';
import {
  type CatalogView,
  type ChatEngine,
  type MethodCard,
  type NamedPipeline,
  PlanRefusal,
  type PlanView,
  type RunView,
} from '../../../src/agent/engine.js';
import type { BitrixUserView } from '../../../src/agent/links.js';
import type { Finding } from '../../../src/lib/failures.js';

/**
 * An in-memory engine for agent unit tests and the concurrency bench: a two-pack catalog, a checker that knows
 * required params, plans with TTL and single use, and a tiny CRM (deals) that applied plans write to.
 */
export function stubCatalog(): CatalogView {
  const core: MethodCard[] = [
    {
      name: 'crm.deal.add',
      risk: 'write',
      entity: 'deal',
      summary: { en: 'Creates a deal.', ru: 'Создаёт сделку.' },
      params: [
        {
          name: 'fields',
          type: 'object',
          required: true,
          fields: [
            { name: 'TITLE', required: true },
            { name: 'OPPORTUNITY', type: 'number' },
          ],
        },
      ],
      risk_fields: ['OPPORTUNITY'],
    },
    { name: 'crm.deal.list', risk: 'read', entity: 'deal', summary: { en: 'Lists deals.' } },
    {
      name: 'crm.deal.delete',
      risk: 'destructive',
      entity: 'deal',
      summary: { en: 'Deletes a deal.' },
      params: [{ name: 'id', required: true }],
    },
  ];
  const comms: MethodCard[] = [
    { name: 'im.message.add', risk: 'write', entity: 'chat_message', summary: { en: 'Sends a chat message.' } },
  ];
  const packs = [
    { name: 'core', vocabulary: { en: ['deal'], ru: ['сделк'] }, methods: core },
    { name: 'comms', vocabulary: { en: ['chat', 'message'], ru: ['чат', 'сообщени'] }, methods: comms },
  ];
  return {
    packs,
    method: (n) => {
      for (const p of packs) {
        const m = p.methods.find((x) => x.name.toLowerCase() === n.toLowerCase());
        if (m) return { ...m, pack: p.name };
      }
      return undefined;
    },
    routePacks: (text) =>
      packs
        .filter((p) => p.vocabulary.en.concat(p.vocabulary.ru).some((w) => text.toLowerCase().includes(w)))
        .map((p) => p.name),
  };
}

interface StubPlan {
  view: PlanView;
  steps: { method: string; params: Record<string, unknown> }[];
  used: boolean;
}

export interface StubEngine extends ChatEngine {
  deals: Map<number, Record<string, unknown>>;
  writes: number;
  named: NamedPipeline[];
  /** Make the next apply report drift. */
  driftNext: boolean;
  /** Portal users by id (`bitrixUser`); ids 1-20 are active, 99 is inactive. */
  users: Map<string, BitrixUserView>;
  /** Notifications sent (`notifyUser`), oldest first. */
  notifications: { userId: string; text: string }[];
  /** Bitrix24 user ids `mayOperate` says yes to. */
  operators: Set<string>;
  /** The dead-letter queue (`dlq`, `dlqDrop`, `dlqReplay`: a replay succeeds unless the letter's error is `sticky`). */
  letters: { id: string; event: string; error: string; attempts: number }[];
}

export function stubEngine(opts: { ttlMs?: number; delayMs?: number } = {}): StubEngine {
  const catalog = stubCatalog();
  const plans = new Map<string, StubPlan>();
  let nextDeal = 1;
  const delay = () => new Promise((r) => setTimeout(r, opts.delayMs ?? 0));
  const engine: StubEngine = {
    catalog,
    deals: new Map(),
    writes: 0,
    named: [],
    driftNext: false,
    portal: '',
    users: new Map<string, BitrixUserView>([
      ...Array.from({ length: 20 }, (_, i): [string, BitrixUserView] => [
        String(i + 1),
        { id: String(i + 1), name: `User ${i + 1}`, active: true },
      ]),
      ['99', { id: '99', name: 'Gone User', active: false }],
    ]),
    notifications: [],
    operators: new Set(),
    letters: [],
    async pipelines() {
      return engine.named;
    },
    async check(obj) {
      const findings: Finding[] = [];
      const steps = ((obj as { steps?: unknown[] }).steps ?? []) as {
        method: string;
        params?: Record<string, unknown>;
      }[];
      steps.forEach((s, i) => {
        if (s.method === 'crm.deal.add' && !(s.params?.fields as Record<string, unknown> | undefined)?.TITLE) {
          findings.push({
            file: 'chat',
            line: 1,
            col: 1,
            field: `/steps/${i}/params/fields/TITLE`,
            message: 'crm.deal.add requires fields.TITLE',
            rule: 'required-param',
            severity: 'error',
          });
        }
      });
      return { pipeline: findings.length ? undefined : obj, findings };
    },
    async loadNamed(p) {
      return {
        pipeline: { steps: [{ method: 'crm.deal.add', params: { fields: { TITLE: `from ${p.name}` } } }] },
        findings: [],
      };
    },
    async plan(pipeline) {
      await delay();
      const steps = ((pipeline as { steps: { method: string; params?: Record<string, unknown> }[] }).steps ?? []).map(
        (s) => ({ method: s.method, params: s.params ?? {} }),
      );
      const writes = steps
        .filter((s) => catalog.method(s.method)?.risk !== 'read')
        .map((s, i) => ({
          step: `s${i}`,
          method: s.method,
          risk: catalog.method(s.method)?.risk ?? 'write',
          text: `${s.method} ${JSON.stringify(s.params)}`,
        }));
      const risk = writes.some((w) => w.risk === 'destructive') ? 'destructive' : writes.length ? 'write' : 'read';
      const now = Date.now();
      const view: PlanView = {
        id: `plan_${randomBytes(6).toString('hex')}`,
        createdAt: new Date(now).toISOString(),
        expiresAt: new Date(now + (opts.ttlMs ?? 30 * 60_000)).toISOString(),
        risk,
        riskFields: steps.some(
          (s) => (s.params.fields as Record<string, unknown> | undefined)?.OPPORTUNITY !== undefined,
        )
          ? ['OPPORTUNITY']
          : [],
        writes,
        cost: { calls: steps.length },
      };
      plans.set(view.id, { view, steps, used: false });
      return view;
    },
    async apply(planId, o): Promise<RunView> {
      await delay();
      const p = plans.get(planId);
      if (!p) throw new PlanRefusal('unknown', 'no such plan');
      if (p.used) throw new PlanRefusal('used', 'plan already used');
      if (Date.parse(p.view.expiresAt) <= Date.now()) throw new PlanRefusal('expired', 'plan expired');
      if (engine.driftNext) {
        engine.driftNext = false;
        throw new PlanRefusal('drifted', 'data drifted');
      }
      if (p.view.writes.length && !o.confirmWrite) throw new PlanRefusal('unconfirmed', 'writes need confirmation');
      if (p.view.risk === 'destructive' && !o.confirmDestructive)
        throw new PlanRefusal('unconfirmed', 'destructive needs confirmation');
      p.used = true;
      const ids: string[] = [];
      for (const s of p.steps) {
        if (s.method === 'crm.deal.add') {
          const id = nextDeal++;
          engine.deals.set(id, { ...(s.params.fields as Record<string, unknown>) });
          engine.writes++;
          ids.push(`deal:${id}`);
        } else if (s.method === 'crm.deal.delete') {
          engine.deals.delete(Number(s.params.id));
          engine.writes++;
        }
      }
      return {
        runId: `run_${planId}`,
        status: 'succeeded',
        summary: { en: [`Created ${ids.length} deal(s)`], ru: [`Создано сделок: ${ids.length}`] },
        objectIds: ids,
      };
    },
    async run() {
      return undefined;
    },
    async dlq() {
      return { size: engine.letters.length, items: engine.letters.slice(-10).reverse() };
    },
    async dlqDrop(id) {
      const i = engine.letters.findIndex((l) => l.id === id);
      if (i < 0) return undefined;
      engine.letters.splice(i, 1);
      return id;
    },
    async dlqReplay(id) {
      const l = engine.letters.find((x) => x.id === id);
      if (!l) return undefined;
      if (l.error === 'sticky') return { id, event: l.event, ok: false, error: 'sticky' };
      engine.letters = engine.letters.filter((x) => x !== l);
      return { id, event: l.event, ok: true };
    },
    async bitrixUser(id) {
      return engine.users.get(id);
    },
    async notifyUser(userId, text) {
      if (!engine.users.has(userId)) throw new Error(`USER_ID_EMPTY: no user ${userId}`);
      engine.notifications.push({ userId, text });
    },
    async mayOperate(bitrixUserId) {
      return engine.operators.has(bitrixUserId);
    },
  };
  return engine;
}
