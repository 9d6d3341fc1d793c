/**
 * Plans: a shadow execution's writes, with diffs for updates (the records read before), risk, risk fields and the
 * cost with the measured item counts; the id hashes the resolved writes and the state read (a stored plan's id is
 * replaced by its seal when it is saved, see planSeal.ts).
 */
import type { BatchCommand } from '../../bitrix/batch.js';
import type { CatalogView } from '../catalog.js';
import type { PipelineClient } from '../client.js';
import { chunked } from '../compile/batches.js';
import type { Program } from '../compile/program.js';
import { type CostEstimate, estimateCost } from '../cost.js';
import { hashOf } from '../load.js';
import { refusalReason } from '../modes.js';
import type { Execution } from './execution.js';
import { fieldOf } from './results.js';
import type { Plan, PlannedWrite, RunOptions } from './types.js';

/** CRM entity type ids of the legacy CRM methods (`crm.<entity>.*`). Source: api-reference/crm/data-types.html#object_type */
const CRM_TYPE_IDS: Record<string, number> = { lead: 1, deal: 2, contact: 3, company: 4, quote: 7 };

/**
 * The CRM record a write touches, when the write names it: `crm.{lead,deal,contact,company,quote}.{update,delete}`
 * (param `id`/`ID`) and `crm.item.{update,delete}` (`entityTypeId`, `id`). Creates have no record before they run.
 */
export function touchedRecord(method: string, params: unknown): { entityTypeId: number; id: string } | undefined {
  if (!params || typeof params !== 'object' || Array.isArray(params)) return undefined;
  const p = params as Record<string, unknown>;
  const m = /^crm\.(lead|deal|contact|company|quote|item)\.(update|delete)$/i.exec(method);
  if (!m) return undefined;
  const id = p.id ?? p.ID;
  if (typeof id !== 'number' && typeof id !== 'string') return undefined;
  const type =
    m[1]!.toLowerCase() === 'item' ? Number(p.entityTypeId ?? p.ENTITY_TYPE_ID) : CRM_TYPE_IDS[m[1]!.toLowerCase()];
  return type && Number.isInteger(type) ? { entityTypeId: type, id: String(id) } : undefined;
}

/** The owner (Bitrix24 user id) a record or a create's fields name: ASSIGNED_BY_ID / assignedById / a task's RESPONSIBLE_ID. */
export function ownerOf(rec: unknown): string | undefined {
  if (!rec || typeof rec !== 'object' || Array.isArray(rec)) return undefined;
  const o = rec as Record<string, unknown>;
  const v = o.ASSIGNED_BY_ID ?? o.assignedById ?? o.RESPONSIBLE_ID ?? o.responsibleId;
  return (typeof v === 'number' || typeof v === 'string') && /^\d+$/.test(String(v)) && Number(v) > 0
    ? String(v)
    : undefined;
}

/**
 * Fetches the current records targeted by update and delete writes, fills `diff` (field before → after) of updates
 * and `owner` (the record's ASSIGNED_BY_ID / RESPONSIBLE_ID) and `record` of both; a create's owner is the one its
 * fields name.
 */
async function addDiffs(
  writes: PlannedWrite[],
  client: PipelineClient,
  catalog: CatalogView,
): Promise<Record<string, unknown>> {
  const targets: [string, BatchCommand, PlannedWrite][] = [];
  writes.forEach((w, i) => {
    if (w.pending) return;
    const p = w.params as Record<string, unknown>;
    if (!p || typeof p !== 'object' || Array.isArray(p)) return;
    if (/\.add$/i.test(w.method)) {
      const owner = ownerOf(p.fields ?? p);
      if (owner) w.owner = owner;
      return;
    }
    const kind = /\.(update|delete)$/i.exec(w.method)?.[1]?.toLowerCase();
    if (!kind) return;
    const record = touchedRecord(w.method, p);
    if (record) w.record = record;
    const idKey = Object.keys(p).find((k) => /^(id|taskid)$/i.test(k));
    if (!idKey) return;
    const get = catalog.method(w.method.replace(/\.(update|delete)$/i, '.get'));
    if (!get) return;
    const getIdKey = get.params?.find((x) => /^(id|taskid)$/i.test(x.name))?.name ?? idKey;
    // crm.item.get (and other universal getters) also need the entityTypeId the update names
    const typeKey = Object.keys(p).find((k) => /^entityTypeId$/i.test(k));
    const params = { ...(typeKey ? { [typeKey]: p[typeKey] } : {}), [getIdKey]: p[idKey] };
    targets.push([`w${i}`, { method: get.name, params }, w]);
  });
  const before: Record<string, unknown> = {};
  for (const chunk of chunked(targets)) {
    const rec: Record<string, BatchCommand> = {};
    for (const [k, c] of chunk) rec[k] = c;
    const r = await client.batch(rec, { halt: false });
    for (const [k, , w] of chunk) {
      let cur = r.results?.[k];
      if (cur && typeof cur === 'object' && !Array.isArray(cur)) {
        const o = cur as Record<string, unknown>;
        cur = o.task ?? o.item ?? cur;
      }
      before[k] = cur ?? null;
      const owner = ownerOf(cur);
      if (owner) w.owner = owner;
      if (!/\.update$/i.test(w.method)) continue;
      const fields = ((w.params as Record<string, unknown>).fields ?? {}) as Record<string, unknown>;
      w.diff = Object.entries(fields).map(([field, after]) => ({ field, before: fieldOf(cur, field) ?? null, after }));
    }
  }
  return before;
}

function highestRisk(writes: PlannedWrite[]): Plan['risk'] {
  if (writes.some((w) => w.risk === 'destructive')) return 'destructive';
  return writes.length ? 'write' : 'none';
}

function costText(c: CostEstimate): string {
  return `${c.calls} calls in ${c.requests} requests (${c.requestsUnbatched} without batching), ~${c.seconds} s, operating-budget risk ${c.operatingRisk}`;
}

/**
 * Plan lifetime in ms: `B24FLOW_PLAN_TTL_MS` of the environment the caller passes (the CLI passes `process.env`),
 * else 30 minutes.
 */
export function planTtlMs(env: NodeJS.ProcessEnv = {}): number {
  const v = Number(env.B24FLOW_PLAN_TTL_MS);
  return Number.isFinite(v) && v > 0 ? v : 30 * 60_000;
}

/** The part of planned writes that drift is judged on: step, item key, exact method and params. */
export function resolvedWrites(
  writes: PlannedWrite[],
): { step: string; key: string; method: string; params: unknown }[] {
  return writes.map((w) => ({ step: w.step, key: w.key, method: w.method, params: w.params }));
}

/** Builds the plan object from a shadow execution. */
export async function buildPlan(ex: Execution, o: RunOptions): Promise<Plan> {
  const p = ex.p;
  const before = await addDiffs(ex.writes, o.client, ex.catalog);
  const stateHash = hashOf({ reads: ex.reads, before });
  const id = `p${hashOf({ pipeline: p.hash, writes: resolvedWrites(ex.writes), state: stateHash }).slice(0, 23)}`;
  const items: Record<string, number> = { ...ex.itemCounts };
  // the budget the plan's own reads (and anything before) spent counts: the run comes right after
  const operating = o.client.operatingOutlook?.();
  const cost = estimateCost(ex.program, ex.catalog, {
    items,
    plan: o.client.portal?.plan,
    batching: o.batching,
    ...(operating ? { operating } : {}),
  });
  const created = Date.now();
  const ttl = o.planTtlMs !== undefined && o.planTtlMs > 0 ? o.planTtlMs : planTtlMs();
  return {
    id,
    pipeline: { name: p.pipeline.name, file: p.file, hash: p.hash },
    createdAt: new Date(created).toISOString(),
    expiresAt: new Date(created + ttl).toISOString(),
    writes: ex.writes,
    ...(ex.deferred.length ? { deferred: ex.deferred } : {}),
    risk: highestRisk(ex.writes),
    riskFields: [...new Set(ex.writes.flatMap((w) => w.riskFields))],
    cost: { ...cost, batchRequests: cost.requests, wallSeconds: cost.seconds, text: costText(cost) },
    stateHash,
    checks: ex.checks,
    inputs: ex.inputs,
    now: ex.ev.now,
    ...(o.client.portal?.id ? { portal: o.client.portal.id } : {}),
    ...(o.principal ? { principal: o.principal } : {}),
  };
}

/**
 * Steps a full run would refuse before doing anything (static: risk, confirmations, trigger), including the steps
 * inside recipes (`use:`) and sub-pipelines (`pipeline:`) — the program's confirmations — so that a run never
 * writes partially and then refuses.
 */
export function staticRefusals(program: Program, o: RunOptions): { step: string; reason: string }[] {
  const out: { step: string; reason: string }[] = [];
  for (const c of program.confirmations) {
    const r = refusalReason(
      c.method,
      {
        mode: 'full',
        confirmWrite: !!o.confirmWrite,
        confirmDestructive: !!o.confirmDestructive,
        triggerKind: o.trigger?.kind ?? 'cli',
        forceConfirm: c.person,
      },
      o.lang ?? 'en',
    );
    if (r) out.push({ step: c.step, reason: r });
  }
  return out;
}
