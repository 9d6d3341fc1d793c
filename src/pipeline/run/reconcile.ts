/**
 * Reconciling creates with the portal: a create whose answer was lost (connection reset after sending, a batch
 * answer lost), or that another data folder or machine already ran with the same `idempotency_key`, is found on the
 * portal instead of being sent twice. Each create method of the catalog declares how (`reconcile`,
 * schemas/catalog-pack.schema.json):
 * - `origin_id`: the create carries a marker derived from the key in `field` (ORIGIN_ID, XML_ID); a list filtered by
 *   the marker finds the record (apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-add.html, ORIGIN_ID);
 * - `lookup`: the catalog's read, filtered by values the create wrote, finds it;
 * - `header`: REST 3.0 (`/rest/api/`) with `Idempotency-Key`; the portal replays the first answer for 24 h
 *   (api-reference/rest-v3.md); only for REST 3.0 methods;
 * - `none`: it cannot be found; a lost answer leaves the write `uncertain` and it is never resent.
 * The local idempotency store (src/pipeline/idempotency.ts) is only a cache in front of this.
 */
import type { Reconcile } from '../../generated/catalog-pack.js';
import { LEGACY_CRM_ADD } from '../compile/batches.js';
import { hashOf, type Step } from '../load.js';
import type { StepMethod } from '../modes.js';
import type { Execution } from './execution.js';
import { fieldOf, rowsOf } from './results.js';

export type { Reconcile };

/** The method's strategy: the catalog's `reconcile`; without one, ORIGIN_ID for legacy CRM creates, else `none`. */
export function reconcileOf(m: StepMethod): Reconcile {
  if (m.reconcile) return m.reconcile;
  return LEGACY_CRM_ADD.test(m.name) ? { by: 'origin_id', field: 'ORIGIN_ID' } : { by: 'none' };
}

/** True when the strategy finds records by a read (before a create, and after a lost answer). */
export function findsByRead(r: Reconcile): boolean {
  return r.by === 'origin_id' || r.by === 'lookup';
}

/** The marker an `origin_id` create carries: `b24flow-` + 24 hex of sha256(pipeline, step, key). */
export function markerOf(ex: Execution, s: Step, key: string): string {
  return `b24flow-${hashOf([ex.p.pipeline.name, ex.prefix + s.id, key]).slice(0, 24)}`;
}

/** The `Idempotency-Key` of a `header` create (the same in every folder and on every machine). */
export function headerKeyOf(ex: Execution, s: Step, key: string): string {
  return `b24flow-${hashOf(`${ex.prefix}${s.id}#${key}`).slice(0, 32)}`;
}

/**
 * The `Idempotency-Key` of a write the client sends over REST 3.0: a keyed step's is {@link headerKeyOf} (the same
 * in every run, so another folder's create is replayed, not repeated); an unkeyed step's also names the run, so a
 * resume of the run replays its own writes while a new run writes again.
 */
export function v3KeyOf(ex: Execution, s: Step, key: string): string {
  if (s.idempotency_key !== undefined) return headerKeyOf(ex, s, key);
  return `b24flow-${hashOf(`${ex.run.runId}|${ex.prefix}${s.id}#${key}`).slice(0, 32)}`;
}

/** Params with the `origin_id` marker set in `fields[field]` (a value the pipeline sets itself is kept). */
export function withMarker(params: unknown, field: string, marker: string): unknown {
  const p = params as { fields?: Record<string, unknown> };
  if (!p || typeof p !== 'object' || !p.fields || typeof p.fields !== 'object') return params;
  if (fieldOf(p.fields, field) !== undefined) return params;
  return { ...p, fields: { ...p.fields, [field]: marker } };
}

/** The value at a dotted path of the create's params (`fields.TITLE`), case-insensitive per segment. */
function at(params: unknown, path: string): unknown {
  let v: unknown = params;
  for (const seg of path.split('.')) v = fieldOf(v, seg);
  return v;
}

/**
 * The read that finds the record a create of `params` made: [method, params], or undefined when the create does not
 * carry what the read needs (no marker, a filter value missing from the params).
 */
export function findCommand(
  ex: Execution,
  m: StepMethod,
  r: Reconcile,
  params: unknown,
): { method: string; params: Record<string, unknown> } | undefined {
  if (r.by === 'origin_id' && r.field) {
    const marker = at(params, `fields.${r.field}`);
    if (marker === undefined || marker === null || marker === '') return undefined;
    return {
      method: m.name.replace(/\.(add|create)$/i, '.list'),
      params: { filter: { [r.field]: marker }, select: ['ID'] },
    };
  }
  if (r.by === 'lookup' && r.lookup) {
    const filter: Record<string, unknown> = {};
    const since = new Date(ex.run.now - (r.lookup.window_hours ?? 24) * 3_600_000).toISOString();
    for (const [k, v] of Object.entries(r.lookup.filter)) {
      const ref = typeof v === 'string' ? /^\{\{\s*([\w.]+)\s*\}\}$/.exec(v) : null;
      if (!ref) filter[k] = v;
      else if (ref[1] === 'since') filter[k] = since;
      else {
        const x = at(params, ref[1]!);
        if (x === undefined || x === null) return undefined;
        filter[k] = Array.isArray(x) || typeof x !== 'object' ? x : JSON.stringify(x);
      }
    }
    return { method: r.lookup.method, params: { filter, select: ['ID'] } };
  }
  return undefined;
}

/** One work item to find: its key and the params its create carries (with the marker). */
export interface FindItem {
  key: string;
  params: unknown;
}

/**
 * Looks the records of `items` up on the portal (one read per item, batched).
 * @returns `found`: key → id of the record the create made; `unknown`: keys whose read failed or could not be built
 *   (the portal could not tell); every other key was not created
 */
export async function findExisting(
  ex: Execution,
  m: StepMethod,
  r: Reconcile,
  items: FindItem[],
): Promise<{ found: Map<string, number>; unknown: Set<string> }> {
  const found = new Map<string, number>();
  const unknown = new Set<string>();
  const cmds: [string, { method: string; params: Record<string, unknown> }][] = [];
  for (const it of items) {
    const c = findCommand(ex, m, r, it.params);
    if (c) cmds.push([it.key, c]);
    else unknown.add(it.key);
  }
  if (!cmds.length) return { found, unknown };
  let answers: Awaited<ReturnType<Execution['send']>>;
  try {
    answers = await ex.send(cmds);
  } catch (err) {
    if (ex.signal?.aborted) throw err;
    for (const [k] of cmds) unknown.add(k);
    return { found, unknown };
  }
  for (const [k, c] of cmds) {
    const a = answers.get(k);
    if (!a || a.error) {
      unknown.add(k);
      continue;
    }
    const wrapper = ex.catalog.method(c.method)?.list?.wrapper;
    const row = rowsOf(a.result, wrapper)[0];
    const id = row === undefined ? undefined : Number(fieldOf(row, 'ID'));
    if (id) found.set(k, id);
  }
  return { found, unknown };
}

/**
 * What a person is told about uncertain writes: the step, the record kind, the count and what to check.
 * @param r the method's strategy (`none`: nothing can find the records; else a resume reconciles them)
 */
export function uncertainMessage(
  step: string,
  entity: string,
  n: number,
  r: Reconcile,
  runId: string,
  lang: 'en' | 'ru' = 'en',
): string {
  const check = r.check?.[lang];
  if (r.by === 'none')
    return lang === 'ru'
      ? `шаг "${step}": ответ портала потерян для ${n} (${entity}); записи не отправлены повторно. ${check ?? `Проверьте на портале, созданы ли они (${entity}), и создайте недостающие вручную.`}`
      : `step "${step}": the portal's answer was lost for ${n} ${entity} create(s); they were not resent. ${check ?? `Check on the portal whether each ${entity} exists and create the missing ones by hand.`}`;
  return lang === 'ru'
    ? `шаг "${step}": ответ портала потерян для ${n} (${entity}); продолжите запуск (b24flow resume ${runId}) — записи будут найдены на портале, а не созданы повторно.`
    : `step "${step}": the portal's answer was lost for ${n} ${entity} create(s); resume the run (b24flow resume ${runId}) to find them on the portal instead of creating them again.`;
}
