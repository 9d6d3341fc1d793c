import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { loadCatalog } from '../catalog/index.js';
import type { Finding } from '../lib/failures.js';
import {
  type ApprovalService,
  applyPlan,
  checkPipeline,
  type Journal,
  type LoadedPipeline,
  loadPipelineFile,
  loadPipelineObject,
  loadPipelineText,
  type CatalogView as PipelineCatalogView,
  type PlanStore,
  planPipeline,
  type RunOptions,
  type SavedPipelineStore,
} from '../pipeline/index.js';
import {
  type CatalogView,
  type ChatEngine,
  type DlqReplayView,
  type NamedPipeline,
  type PlannedWriteView,
  PlanRefusal,
  type PlanView,
  type RunView,
} from './engine.js';
import { approverIds, bitrixUserById, notifyBitrixUser } from './portalUsers.js';
import { eventsOf, sampleEvent } from './sampleEvent.js';

/**
 * What the engine reads of the dead-letter queue (src/triggers' `DeadLetterStore` fits); the composition root
 * passes it in, so that the agent does not depend on the trigger runtime.
 */
export interface DeadLetterSource {
  list():
    | Promise<{ id: string; event: string; error: string; attempts: number }[]>
    | { id: string; event: string; error: string; attempts: number }[];
  /** Removes one letter by id or unique prefix; the id removed, or undefined when absent (`/dlq drop`). */
  remove?(id: string): Promise<string | undefined>;
  /** Runs one letter again as `b24flow dlq replay` does; undefined when absent (`/dlq replay`). */
  replay?(id: string): Promise<DlqReplayView | undefined>;
}

/**
 * The real {@link ChatEngine}: src/catalog for method cards and routing, src/pipeline for loading, checking,
 * planning, applying and the journal, the dead-letter queue given by the composition root, and a connected
 * Bitrix24 client.
 */
export interface RuntimeOptions {
  /** A connected client (`connect()` of src/cli/compose.ts). */
  client: RunOptions['client'];
  /** Directory of named pipelines (default `./pipelines`). */
  pipelinesDir?: string;
  /** Where plans are saved and applied from (src/cli passes the store's, src/store/plans.ts). */
  plans: PlanStore;
  /** Where runs are recorded and read back (`/status`, `GET /runs/<id>`): the store's journal. */
  journal: Journal;
  /** The loaded catalog (default: `loadCatalog()` of the process catalog directory). */
  catalog?: CatalogView;
  /** Catalog directory override (tests); ignored when `catalog` is given. */
  catalogDir?: string;
  /** The dead-letter queue shown by `/dlq` (default: none, an empty queue). */
  deadLetters?: DeadLetterSource;
  /** Bitrix24 user ids that may operate from chat besides pipelines' approvers (`B24FLOW_OPERATORS`, read in src/cli). */
  operators?: string[];
  /** Approval requests of pipelines that declare `approvers:` (chat runs of them ask the approvers). */
  approvals?: ApprovalService;
  /** A one-time web console sign-in link for a Bitrix24 user (the composition root knows the console's address). */
  consoleLink?: (bitrixUserId: string) => Promise<string | undefined>;
  /** Saved pipelines (the store's): listed and run like the folder's, and where `/save` keeps a proposal. */
  saved?: SavedPipelineStore;
  /**
   * Options of every plan and apply the composition root chose from the configuration (data directory, language,
   * time zone, plan lifetime, `env:` values); the engine's own client, store, journal and catalog win.
   */
  runOptions?: Omit<Partial<RunOptions>, 'client'>;
}

interface RawPlan {
  id: string;
  createdAt: string | number;
  expiresAt: string | number;
  writes: object[];
  risk: string;
  riskFields?: string[];
  cost?: object;
  reads?: Record<string, unknown>;
}

interface RawRun {
  runId: string;
  status: string;
  steps?: unknown;
  summary?: { en?: string[] | string; ru?: string[] | string } | string[];
  outputs?: Record<string, unknown>;
}

/**
 * Builds the real engine.
 * @throws when the catalog or pipeline modules cannot be loaded
 */
export async function createRuntimeEngine(opts: RuntimeOptions): Promise<ChatEngine> {
  const catalog: CatalogView =
    opts.catalog ?? (loadCatalog(opts.catalogDir ? { dir: opts.catalogDir } : undefined) as unknown as CatalogView);
  const store = opts.plans;
  const journal = opts.journal;
  const pcat = catalog as unknown as PipelineCatalogView;
  const client = opts.client;
  const pipelinesDir = resolve(opts.pipelinesDir ?? 'pipelines');

  /** The pipeline files' documents (an unreadable one is reported by `b24flow check`; chat users just do not see it). */
  const readDocs = async (): Promise<{ file: string; doc: Record<string, unknown> }[]> => {
    const names = await readdir(pipelinesDir).catch(() => [] as string[]);
    const out: { file: string; doc: Record<string, unknown> }[] = [];
    for (const n of names.filter((x) => /\.ya?ml$/.test(x)).sort()) {
      const file = join(pipelinesDir, n);
      try {
        const doc = parseYaml(await readFile(file, 'utf8')) as unknown;
        if (doc && typeof doc === 'object') out.push({ file, doc: doc as Record<string, unknown> });
      } catch {
        // skipped, see above
      }
    }
    // the enabled saved pipelines the folder does not have (`store:<name>@v<version>`)
    for (const sp of (await opts.saved?.list().catch(() => [])) ?? []) {
      if (sp.disabled || out.some((x) => x.doc.name === sp.name)) continue;
      try {
        const doc = parseYaml(sp.text) as unknown;
        if (doc && typeof doc === 'object')
          out.push({ file: `store:${sp.name}@v${sp.version}`, doc: doc as Record<string, unknown> });
      } catch {
        // a saved text that no longer parses is not offered
      }
    }
    return out;
  };
  const operators = new Set(opts.operators ?? []);

  const checkLoaded = (load: () => LoadedPipeline): { pipeline?: unknown; findings: Finding[] } => {
    try {
      const p = load();
      return { pipeline: p, findings: checkPipeline(p, { catalog: pcat }) };
    } catch (err) {
      const findings = (err as { findings?: Finding[] }).findings;
      if (Array.isArray(findings)) return { findings };
      throw err;
    }
  };

  return {
    catalog,
    async examples() {
      return (await readDocs()).map((d) => d.doc);
    },
    async pipelines() {
      const out: NamedPipeline[] = [];
      for (const { file, doc } of await readDocs()) {
        if (typeof doc.name !== 'string') continue;
        const triggers = Array.isArray(doc.triggers) ? (doc.triggers as Record<string, unknown>[]) : [];
        const chat = triggers.find((t) => t && typeof t === 'object' && 'chat' in t)?.chat as NamedPipeline['chat'];
        out.push({
          name: doc.name,
          file,
          ...(typeof doc.description === 'string' ? { description: doc.description } : {}),
          ...(chat ? { chat } : {}),
          ...(doc.inputs && typeof doc.inputs === 'object' ? { inputs: doc.inputs as NamedPipeline['inputs'] } : {}),
          ...(eventsOf(doc).length ? { events: eventsOf(doc) } : {}),
        });
      }
      return out;
    },
    async check(obj, source) {
      return checkLoaded(() => loadPipelineObject(obj, source));
    },
    async loadNamed(p) {
      try {
        const stored = /^store:(.+)@v(\d+)$/.exec(p.file);
        const text = stored ? (await opts.saved?.get(stored[1]!, Number(stored[2])))?.text : undefined;
        if (stored && text === undefined) return { findings: [] };
        const loaded = text !== undefined ? loadPipelineText(text, p.file) : await loadPipelineFile(p.file);
        return { pipeline: loaded, findings: checkPipeline(loaded, { catalog: pcat }) };
      } catch (err) {
        const findings = (err as { findings?: Finding[] }).findings;
        if (Array.isArray(findings)) return { findings };
        throw err;
      }
    },
    async plan(pipeline, inputs, principal) {
      const raw = await planPipeline(pipeline as LoadedPipeline, {
        ...opts.runOptions,
        client,
        inputs,
        ...(principal ? { principal } : {}),
        store,
        catalog: pcat,
        trigger: { kind: 'chat' },
        // read-only requests show what they read (the reads are not stored with the plan)
        withReads: true,
      });
      return toPlanView(raw, catalog);
    },
    async apply(planId, o) {
      try {
        const run = await applyPlan(planId, {
          ...opts.runOptions,
          client,
          confirmWrite: o.confirmWrite,
          confirmDestructive: o.confirmDestructive,
          ...(o.principal ? { principal: o.principal } : {}),
          store,
          journal,
          catalog: pcat,
          trigger: { kind: 'chat' },
        });
        return toRunView(run, catalog);
      } catch (err) {
        throw toRefusal(err) ?? err;
      }
    },
    async run(runId) {
      const r = /^[A-Za-z0-9_.-]{1,128}$/.test(runId) ? await journal.get(runId) : undefined;
      return r ? toRunView({ ...r, steps: Object.values(r.steps) }, catalog) : undefined;
    },
    async dlq() {
      const list = (await opts.deadLetters?.list()) ?? [];
      return {
        size: list.length,
        items: list
          .slice(-10)
          .reverse()
          .map((d) => ({ id: d.id, event: d.event, error: d.error.slice(0, 200), attempts: d.attempts })),
      };
    },
    async dlqDrop(id) {
      if (!opts.deadLetters?.remove) throw new Error('this process cannot drop dead letters');
      return opts.deadLetters.remove(id);
    },
    async dlqReplay(id) {
      if (!opts.deadLetters?.replay) throw new Error('this process cannot replay dead letters');
      return opts.deadLetters.replay(id);
    },
    portal: client.portal?.id ?? '',
    bitrixUser: (id) => bitrixUserById(client, id),
    notifyUser: (id, text) => notifyBitrixUser(client, id, text),
    async mayOperate(bitrixUserId) {
      if (operators.has(bitrixUserId)) return true;
      return (await readDocs()).some(({ doc }) => approverIds(doc).includes(bitrixUserId));
    },
    async ask(pipeline, inputs, startedBy) {
      const lp = pipeline as LoadedPipeline;
      if (!opts.approvals || !lp?.pipeline?.approvers) return undefined;
      const r = await opts.approvals.ask(lp, {
        inputs,
        trigger: { kind: 'chat' },
        ...(startedBy ? { startedBy } : {}),
      });
      return {
        ...(r.runId ? { runId: r.runId } : {}),
        requests: r.requests.map((q) => ({
          id: q.id,
          ...(q.owner ? { owner: q.owner } : {}),
          approvers: q.approvers,
          writes: q.writes.length,
          expiresAt: q.expiresAt,
        })),
      };
    },
    ...(opts.consoleLink ? { consoleLink: opts.consoleLink } : {}),
    sampleEvent: (name) => sampleEvent(client, name),
    ...(opts.saved ? { savedPipelines: opts.saved } : {}),
    ...(opts.saved
      ? {
          async save(pipeline: unknown, name: string, author?: string) {
            const saved = opts.saved!;
            const doc = { ...(pipeline as Record<string, unknown>), name };
            const text = stringifyYaml(doc);
            const loaded = loadPipelineText(text, `${name}.yaml`);
            const findings = checkPipeline(loaded, { catalog: pcat }).filter((f) => f.severity === 'error');
            if (findings.length) return { findings };
            const r = await saved.save(name, text, author);
            return { name, version: r.saved.version, created: r.created };
          },
        }
      : {}),
  };
}

function iso(v: string | number | undefined): string {
  if (v === undefined) return new Date().toISOString();
  return typeof v === 'number' ? new Date(v).toISOString() : v;
}

/** Maps the pipeline module's plan to the chat view (one-liners per write). */
export function toPlanView(raw: RawPlan, catalog: CatalogView): PlanView {
  const cost = (raw.cost ?? {}) as Record<string, unknown>;
  return {
    id: raw.id,
    createdAt: iso(raw.createdAt),
    expiresAt: iso(raw.expiresAt),
    risk: raw.risk,
    riskFields: raw.riskFields ?? [],
    writes: raw.writes.map((w) => toWriteView(w as Record<string, unknown>, catalog)),
    cost: {
      ...(typeof cost.calls === 'number' ? { calls: cost.calls } : {}),
      ...(typeof cost.restCalls === 'number' ? { calls: cost.restCalls } : {}),
      ...(typeof cost.batches === 'number' ? { batches: cost.batches } : {}),
      ...(typeof cost.batchRequests === 'number' ? { batches: cost.batchRequests } : {}),
      ...(typeof cost.seconds === 'number' ? { seconds: cost.seconds } : {}),
      ...(typeof cost.wallSeconds === 'number' ? { seconds: cost.wallSeconds } : {}),
      ...(typeof cost.text === 'string' ? { text: cost.text } : {}),
    },
    ...(raw.reads && !raw.writes.length ? { reads: raw.reads } : {}),
  };
}

const LABEL_FIELDS = ['TITLE', 'NAME', 'LAST_NAME', 'SUBJECT', 'COMMENT', 'MESSAGE', 'POST_MESSAGE'];
const VALUE_FIELDS = [
  'OPPORTUNITY',
  'CURRENCY_ID',
  'STAGE_ID',
  'STATUS_ID',
  'ASSIGNED_BY_ID',
  'RESPONSIBLE_ID',
  'DEADLINE',
];

function toWriteView(w: Record<string, unknown>, catalog: CatalogView): PlannedWriteView {
  const method = String(w.method ?? '');
  const entry = catalog.method(method);
  const risk = String(w.risk ?? entry?.risk ?? 'write');
  const entity = String(w.entity ?? entry?.entity ?? method.split('.').slice(-2, -1)[0] ?? 'object');
  const params = (w.params ?? {}) as Record<string, unknown>;
  const fields = (
    params && typeof params === 'object' && !Array.isArray(params) && params.fields && typeof params.fields === 'object'
      ? params.fields
      : Array.isArray(params) && params[1] && typeof params[1] === 'object'
        ? params[1]
        : params
  ) as Record<string, unknown>;
  const verb = method.endsWith('.add')
    ? 'create'
    : /\.(delete|remove)$/.test(method)
      ? 'delete'
      : /\.update$/.test(method)
        ? 'update'
        : (entry?.summary?.en?.split(' ')[0]?.toLowerCase() ?? 'change');
  const id = params && typeof params === 'object' && !Array.isArray(params) ? (params.id ?? params.ID) : undefined;
  const label = LABEL_FIELDS.map((f) => fields?.[f]).find((v) => typeof v === 'string');
  const values = VALUE_FIELDS.filter((f) => fields?.[f] !== undefined).map((f) => `${f} ${short(fields[f])}`);
  const diff = Array.isArray(w.diff)
    ? (w.diff as { field?: string; before?: unknown; after?: unknown }[])
        .slice(0, 5)
        .map((d) => `${d.field}: ${short(d.before)} → ${short(d.after)}`)
    : [];
  const text = [
    `${verb} ${entity}${id !== undefined ? ` ${short(id)}` : ''}${label ? ` "${String(label).slice(0, 80)}"` : ''}`,
    ...(diff.length ? diff : values),
  ].join(', ');
  return { step: String(w.step ?? w.stepId ?? ''), method, risk, entity, text, params: w.params };
}

function short(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s === undefined ? '∅' : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Maps a run result; collects created object ids (`deal:42`) from `.add` step results. */
export function toRunView(raw: RawRun, catalog: CatalogView): RunView {
  const lines = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []);
  const summary = Array.isArray(raw.summary)
    ? { en: lines(raw.summary), ru: lines(raw.summary) }
    : { en: lines(raw.summary?.en), ru: lines(raw.summary?.ru ?? raw.summary?.en) };
  const objectIds: string[] = [];
  const steps = Array.isArray(raw.steps)
    ? raw.steps
    : raw.steps && typeof raw.steps === 'object'
      ? Object.values(raw.steps)
      : [];
  for (const s of steps as Record<string, unknown>[]) {
    const method = String(s?.method ?? '');
    if (!method.endsWith('.add')) continue;
    const entity = catalog.method(method)?.entity ?? method.split('.').slice(-2, -1)[0] ?? 'object';
    const results = Array.isArray(s.results) ? s.results : [s.result];
    for (const r of results) {
      const id = idOf(r);
      if (id) objectIds.push(`${entity}:${id}`);
    }
  }
  return {
    runId: raw.runId,
    status: raw.status,
    summary,
    objectIds: objectIds.slice(0, 100),
    steps: raw.steps,
    ...(raw.outputs ? { outputs: raw.outputs } : {}),
  };
}

function idOf(r: unknown): string | undefined {
  if (typeof r === 'number' || (typeof r === 'string' && /^\d+$/.test(r))) return String(r);
  if (r && typeof r === 'object') {
    const o = r as Record<string, unknown>;
    for (const k of ['id', 'ID', 'item', 'task']) {
      const v = o[k];
      if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v))) return String(v);
      if (v && typeof v === 'object') return idOf(v);
    }
  }
  return undefined;
}

/** Maps the pipeline module's plan errors to {@link PlanRefusal} by class name, code or message. */
export function toRefusal(err: unknown): PlanRefusal | undefined {
  if (err instanceof PlanRefusal) return err;
  if (!(err instanceof Error)) return undefined;
  const o = err as Error & { code?: string; reason?: string };
  const known: Record<string, PlanRefusal['reason']> = {
    expired: 'expired',
    used: 'used',
    drifted: 'drifted',
    unknown: 'unknown',
    unconfirmed: 'unconfirmed',
    changed: 'changed',
    principal: 'principal',
    portal: 'unknown',
  };
  if (o.name.startsWith('Plan') && o.reason && known[o.reason]) return new PlanRefusal(known[o.reason]!, err.message);
  const key = `${o.name} ${o.code ?? ''} ${o.reason ?? ''} ${o.message}`.toLowerCase();
  if (/expired/.test(key)) return new PlanRefusal('expired', err.message);
  if (/drift/.test(key)) return new PlanRefusal('drifted', err.message);
  if (/already (been )?(applied|used)|\bused\b/.test(key)) return new PlanRefusal('used', err.message);
  if (/unknown plan|plan not found|no (such )?plan|not_found/.test(key)) return new PlanRefusal('unknown', err.message);
  if (/confirm/.test(key)) return new PlanRefusal('unconfirmed', err.message);
  return undefined;
}
