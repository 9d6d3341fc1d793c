/**
 * Replays the documented examples (tests/fixtures/conformance/cases.json, built by extract.ts) against a running
 * sandbox over real HTTP and compares each answer's shape with the documented one (docShapes.ts). Webhook examples
 * go to the webhook URL, OAuth examples to `/rest/{method}` with the app's token in the JSON body, REST 3.0 examples
 * under `/rest/api/`. The docs' ids rarely exist in the seeded portal, so when an example fails or lists nothing the
 * replay maps ids generically (never per case): an id key (`id`, `ID`, `taskId`, `TASKID`, …) is replaced by an
 * existing entity of the method's family (found with the family's list method, or created with the family's own
 * documented add example), and a list that stays empty is retried without its filter.
 */
import { readFileSync } from 'node:fs';
import { type ConformanceCase as Case, compareShape, type Shape, type ShapeDiff } from './docShapes.js';

/** The outcome of one case. */
export interface CaseResult {
  case: Case;
  status: number;
  ok: boolean;
  diffs: ShapeDiff[];
  /** error code of a failed call */
  error?: string;
}

/** Where and how to call the sandbox. */
export interface Target {
  webhookUrl: string;
  baseUrl: string;
  accessToken: string;
}

/** The committed cases. */
export function loadCases(): Case[] {
  const url = new URL('../../tests/fixtures/conformance/cases.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { cases: Case[] }).cases;
}

type Answer = { status: number; body: any };

async function call(t: Target, method: string, params: unknown, v3: boolean, oauth: boolean): Promise<Answer> {
  const base = oauth ? `${t.baseUrl}/rest/` : t.webhookUrl;
  const url = (v3 ? base.replace('/rest/', '/rest/api/') : base) + method;
  const body =
    oauth && params && typeof params === 'object' && !Array.isArray(params)
      ? { ...(params as object), auth: t.accessToken }
      : params;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body ?? {}),
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

/** Keys naming the entity a method works on. */
const OWN_ID = ['id', 'ID', 'Id', 'itemId', 'ITEMID', 'MESSAGE_ID', 'messageId'];
/** Keys scoping a family's entities to one type (smart process, pipeline owner). */
const SCOPE_KEYS = ['entityTypeId', 'ENTITY_TYPE_ID'];
/** Keys naming a parent entity of another family. */
const PARENT_KEYS: Record<string, string> = {
  taskId: 'tasks.task',
  TASKID: 'tasks.task',
  TASK_ID: 'tasks.task',
  GROUP_ID: 'sonet_group',
  groupId: 'sonet_group',
};
/** Keys naming a user (in params or their `fields`). */
const USER_KEY =
  /^(RESPONSIBLE_ID|CREATED_BY|ASSIGNED_BY_ID|AUTHOR_ID|USER_ID|responsibleId|creatorId|assignedById|authorId|userId)$/;

/** Makes the field names of an add example unique (`FIELD_NAME`, `fieldName`, …) so a repeated add does not clash. */
function renameFields(params: unknown, salt: string): void {
  const tag = salt
    .replace(/[^A-Za-z0-9]/g, '')
    .toUpperCase()
    .slice(-12);
  for (const bag of [params, (params as any)?.fields, (params as any)?.FIELDS]) {
    if (!bag || typeof bag !== 'object' || Array.isArray(bag)) continue;
    for (const k of ['FIELD_NAME', 'fieldName', 'STATUS_ID', 'statusId'])
      if (typeof (bag as any)[k] === 'string') (bag as any)[k] = `${(bag as any)[k]}_${tag}`;
  }
}

/** Rows of a list answer: a bare array or the first array-valued property (`items`, `tasks`, `categories`…). */
function rowsOf(result: unknown): any[] {
  if (Array.isArray(result)) return result;
  if (result && typeof result === 'object') {
    for (const v of Object.values(result)) if (Array.isArray(v)) return v;
  }
  return [];
}

/** The id an add-like answer created: a number/string result or `{item|task|…:{id}}` / `{id}`. */
function createdId(result: unknown): unknown {
  if (typeof result === 'number' || typeof result === 'string') return result;
  if (result && typeof result === 'object') {
    const r = result as Record<string, any>;
    if (r.id ?? r.ID) return r.id ?? r.ID;
    for (const v of Object.values(r)) if (v && typeof v === 'object' && (v.id ?? v.ID)) return v.id ?? v.ID;
  }
  return undefined;
}

/** The record a documented get answer shows: the result, or its one wrapped object (`{item: {…}}`). */
function recordShape(result: Shape | undefined): Shape | undefined {
  if (!result || typeof result !== 'object' || Array.isArray(result)) return undefined;
  const keys = Object.keys(result);
  const inner = keys.length === 1 ? result[keys[0]!] : undefined;
  return inner && typeof inner === 'object' && !Array.isArray(inner) ? inner : result;
}

/** The row whose shape differs least from `like` (the first of equals). */
function closest(like: Shape, rows: any[]): any {
  let best: any;
  let fewest = Infinity;
  for (const row of rows) {
    const n = compareShape(like, row).length;
    if (n < fewest) [best, fewest] = [row, n];
  }
  return best;
}

/** Replays cases in order against one sandbox. */
export class Replayer {
  constructor(
    private readonly t: Target,
    private readonly cases: Case[],
  ) {}

  private readonly busy = new Set<string>();

  /**
   * An existing entity id of `family`: the first row of its list method (`list`, `getlist` or a bare `get`), else
   * of a parent family's (`crm.deal.contact` → `crm.deal`), else the id its own documented add example creates.
   */
  private async entityOf(
    family: string,
    scopeParams: Record<string, unknown>,
    v3: boolean,
    like?: Shape,
  ): Promise<unknown> {
    // not cached: an earlier case may have deleted the entity found before
    const key = `${v3}|${family}|${JSON.stringify(scopeParams)}`;
    if (this.busy.has(key)) return undefined;
    this.busy.add(key);
    let id: unknown;
    const parts = family.split('.');
    const chain = parts.map((_, i) => parts.slice(0, parts.length - i).join('.'));
    for (const fam of chain) {
      for (const verb of ['list', 'getlist', 'get']) {
        const a = await call(this.t, `${fam}.${verb}`, scopeParams, v3, false);
        if (a.status !== 200) continue;
        const rows = rowsOf(a.body.result);
        const row = like ? closest(like, rows) : rows[0];
        id = row?.id ?? row?.ID;
        if (id !== undefined) break;
      }
      if (id !== undefined) break;
    }
    for (const fam of chain) {
      if (id !== undefined) break;
      const adds = this.cases.filter((c) => c.family === fam && c.v3 === v3 && /\.(add|create)$/.test(c.method));
      for (const add of adds) {
        const params = await this.mapIds(add, structuredClone(add.params));
        const a = await call(this.t, add.method, params, v3, false);
        if (a.status === 200) {
          id = createdId(a.body.result);
          if (id !== undefined) break;
        }
      }
    }
    this.busy.delete(key);
    return id;
  }

  /**
   * An entity made now by the family's documented add example (with a fresh name where it has one), in the scope
   * (`entityTypeId`) of the case that needs it: the add example may document another type.
   */
  private async fresh(family: string, v3: boolean, scope: Record<string, unknown>): Promise<unknown> {
    for (const add of this.cases.filter((c) => c.family === family && c.v3 === v3 && /\.add$/.test(c.method))) {
      const params = await this.mapIds(add, structuredClone(add.params));
      if (params && typeof params === 'object')
        for (const [k, v] of Object.entries(scope)) if (k in params) (params as Record<string, unknown>)[k] = v;
      renameFields(params, `${add.id}-fresh-${++this.serial}`);
      const a = await call(this.t, add.method, params, v3, false);
      if (a.status === 200 && createdId(a.body.result) !== undefined) return createdId(a.body.result);
    }
    return undefined;
  }

  private serial = 0;

  /**
   * A smart-process `entityTypeId` (≥ 1030) of the docs' portal is made here with `crm.type.add` when the portal
   * lacks it (no-op where `crm.type.*` is not emulated).
   */
  private async ensureType(params: unknown): Promise<void> {
    if (!params || typeof params !== 'object') return;
    const id = Number((params as Record<string, unknown>).entityTypeId);
    if (!Number.isInteger(id) || id < 1030 || this.types.has(id)) return;
    this.types.add(id);
    await call(this.t, 'crm.type.add', { fields: { title: `Conformance ${id}`, entityTypeId: id } }, false, false);
  }

  private readonly types = new Set<number>();

  /** Params with id keys pointing at existing entities of the method's family (and parent tasks). */
  private async mapIds(c: Case, params: unknown): Promise<unknown> {
    if (!params || typeof params !== 'object' || Array.isArray(params)) return params;
    const p = params as Record<string, unknown>;
    const scope: Record<string, unknown> = {};
    for (const k of SCOPE_KEYS) if (k in p) scope[k] = p[k];
    for (const [k, fam] of Object.entries(PARENT_KEYS)) {
      if (k in p && typeof p[k] !== 'object' && c.family !== fam) {
        const parent = await this.entityOf(fam, {}, c.v3);
        if (parent !== undefined) {
          p[k] = Number(parent);
          scope[k] = p[k];
        }
      }
    }
    // users the docs' portal had (responsible, author, …) become the calling user
    for (const bag of [p, p.fields, p.FIELDS]) {
      if (!bag || typeof bag !== 'object' || Array.isArray(bag)) continue;
      for (const [k, v] of Object.entries(bag as Record<string, unknown>)) {
        if (!USER_KEY.test(k)) continue;
        if (Array.isArray(v)) (bag as Record<string, unknown>)[k] = v.map((_, i) => i + 2);
        else if (typeof v === 'number' || /^\d+$/.test(String(v)))
          (bag as Record<string, unknown>)[k] = typeof v === 'number' ? 1 : '1';
      }
    }
    const own = [...OWN_ID, ...Object.keys(PARENT_KEYS).filter((k) => PARENT_KEYS[k] === c.family)];
    // a few examples of get/update/delete leave the id out (the portal would refuse them): name one
    if (/\.(get|update|delete)$/.test(c.method) && !c.v3 && 'fields' in p && !own.some((k) => k in p)) p.id = 0;
    // a get (or an update answering the record) names one record of the docs' portal: the existing record most like
    // the documented one stands for it
    const like = /\.(get|update)$/.test(c.method) ? recordShape(c.expect.result) : undefined;
    for (const k of own) {
      if (!(k in p) || typeof p[k] === 'object') continue;
      const id = await this.entityOf(c.family, scope, c.v3, like);
      if (id !== undefined) p[k] = typeof p[k] === 'string' ? String(id) : Number(id);
    }
    await this.mapPipeline(c, p);
    return p;
  }

  /**
   * A pipeline (`categoryId`) and stage (`stageId`) of the docs' portal in `fields` become one of this portal's
   * pipelines of the same `entityTypeId` and a stage of it (found with crm.status.entity.types / .items); an update
   * that names only a stage gets a stage of the record's own pipeline (read with the family's get).
   */
  private async mapPipeline(c: Case, p: Record<string, unknown>): Promise<void> {
    const bag = (p.fields ?? p.FIELDS) as Record<string, unknown> | undefined;
    const etid = Number(p.entityTypeId ?? p.ENTITY_TYPE_ID);
    if (!bag || typeof bag !== 'object' || !Number.isInteger(etid)) return;
    const catKey = ['categoryId', 'CATEGORY_ID'].find((k) => k in bag);
    const stageKey = ['stageId', 'STAGE_ID'].find((k) => k in bag);
    if (!catKey && !stageKey) return;
    const types = (await call(this.t, 'crm.status.entity.types', {}, false, false)).body?.result;
    const pipelines = (Array.isArray(types) ? types : []).filter(
      (x: any) => Number(x.ENTITY_TYPE_ID) === etid && x.CATEGORY_ID !== undefined,
    );
    if (!pipelines.length) return;
    let cat = catKey ? Number(bag[catKey]) : undefined;
    if (cat === undefined && (p.id ?? p.ID) !== undefined) {
      const got = await call(this.t, `${c.family}.get`, { entityTypeId: etid, id: p.id ?? p.ID }, c.v3, false);
      const rec = got.body?.result?.item ?? got.body?.result;
      cat = Number(rec?.categoryId ?? rec?.CATEGORY_ID);
    }
    let pipe = pipelines.find((x: any) => Number(x.CATEGORY_ID) === cat);
    if (!pipe) {
      pipe = pipelines.find((x: any) => Number(x.CATEGORY_ID) !== 0) ?? pipelines[0];
      if (catKey) bag[catKey] = typeof bag[catKey] === 'string' ? String(pipe.CATEGORY_ID) : Number(pipe.CATEGORY_ID);
    }
    if (!stageKey) return;
    const items = (await call(this.t, 'crm.status.entity.items', { entityId: pipe.ID }, false, false)).body?.result;
    const stages = Array.isArray(items) ? items.map((x: any) => x.STATUS_ID as string) : [];
    if (stages.length && !stages.includes(bag[stageKey] as string)) bag[stageKey] = stages[0];
  }

  /** Replays one case: as documented, then with mapped ids, then (lists) without the filter. */
  async run(c: Case): Promise<CaseResult> {
    let params: unknown = structuredClone(c.params);
    let oauth = c.oauth;
    let a = await call(this.t, c.method, params, c.v3, oauth);
    // the docs show webhook examples for application-only methods; a portal refuses those, so replay them as the app
    if (!oauth && a.status === 403 && /WRONG_AUTH_TYPE|Application context/.test(JSON.stringify(a.body))) {
      oauth = true;
      a = await call(this.t, c.method, params, c.v3, oauth);
    }
    if (a.status !== 200 || (rowsOf(a.body?.result).length === 0 && rowsOf(shapeRoot(c)).length > 0)) {
      await this.ensureType(params);
      params = await this.mapIds(c, params);
      a = await call(this.t, c.method, params, c.v3, oauth);
    }
    // a name the docs' add example used is taken (an earlier example made it): the same example with a fresh name
    if (a.status !== 200 && /already exists/i.test(JSON.stringify(a.body))) {
      renameFields(params, c.id);
      a = await call(this.t, c.method, params, c.v3, oauth);
    }
    // updating / deleting the first entity found may be refused (a system status): one made by the add example
    if (a.status !== 200 && /\.(update|delete)$/.test(c.method)) {
      const p = params as Record<string, unknown>;
      const scope = Object.fromEntries(SCOPE_KEYS.filter((k) => p && k in p).map((k) => [k, p[k]]));
      const id = await this.fresh(c.family, c.v3, scope);
      const key = id !== undefined && p && typeof p === 'object' ? OWN_ID.find((k) => k in p) : undefined;
      if (key) {
        p[key] = typeof p[key] === 'string' ? String(id) : Number(id);
        a = await call(this.t, c.method, p, c.v3, oauth);
      }
    }
    if (a.status === 200 && rowsOf(a.body.result).length === 0 && rowsOf(shapeRoot(c)).length > 0) {
      const p = params as Record<string, unknown>;
      for (const k of ['filter', 'FILTER', 'Filter']) delete p[k];
      a = await call(this.t, c.method, p, c.v3, oauth);
    }
    if (a.status !== 200 || !a.body || typeof a.body !== 'object') {
      const e = a.body?.error;
      const error = typeof e === 'object' ? `${e?.code} ${e?.message}` : `${e} ${a.body?.error_description ?? ''}`;
      return { case: c, status: a.status, ok: false, diffs: [], error };
    }
    // the closest documented answer counts (a page may document several variants)
    let best: ShapeDiff[] | undefined;
    for (const expect of [c.expect, ...(c.alternatives ?? [])]) {
      const diffs = envelopeDiffs(expect, a.body);
      if (!best || diffs.length < best.length) best = diffs;
    }
    return { case: c, status: a.status, ok: best!.length === 0, diffs: best! };
  }
}

/**
 * Keys of fields the docs' own portal created (user fields `UF_CRM_<n>…` / `ufCrm<n>…`, SPA links `PARENT_ID_<n>` /
 * `parentId<n>`): another portal has other ones, so they are no difference.
 */
const PORTAL_FIELD = /(^|\.)(UF_CRM_\d|ufCrm\d|ufCrm_\d|PARENT_ID_\d|parentId\d)/;

/** Differences of an answer's envelope from a documented one; `next` only counts when the answer has more rows. */
function envelopeDiffs(expect: Record<string, Shape>, body: Record<string, unknown>): ShapeDiff[] {
  const diffs: ShapeDiff[] = [];
  for (const [k, s] of Object.entries(expect)) {
    if (k === 'next' && !('next' in body)) continue;
    if (!(k in body)) diffs.push({ path: k, doc: typeof s === 'string' ? s : 'object', got: 'missing' });
    else compareShape(s, body[k], k, diffs);
  }
  return diffs.filter((d) => !PORTAL_FIELD.test(d.path));
}

/** A documented result with a non-empty list: replays expect rows too. */
function shapeRoot(c: Case): unknown {
  const r = c.expect.result;
  if (Array.isArray(r)) return r;
  if (r && typeof r === 'object') for (const v of Object.values(r)) if (Array.isArray(v)) return v;
  return [];
}

/** Replays every case in fixture order. */
export async function replayAll(t: Target, cases: Case[] = loadCases()): Promise<CaseResult[]> {
  const r = new Replayer(t, cases);
  const out: CaseResult[] = [];
  for (const c of cases) {
    if (process.env.CONFORMANCE_TRACE) process.stderr.write(c.id + '\n');
    out.push(await r.run(c));
  }
  return out;
}

/** The per-family table (family, cases, matching, %) plus a total line, as plain text. */
export function familyTable(results: CaseResult[]): string {
  const fam = new Map<string, { n: number; ok: number }>();
  for (const r of results) {
    const f = (r.case.v3 ? 'v3 ' : '') + r.case.family;
    const e = fam.get(f) ?? { n: 0, ok: 0 };
    e.n++;
    if (r.ok) e.ok++;
    fam.set(f, e);
  }
  const pct = (ok: number, n: number) => ((ok / n) * 100).toFixed(1) + ' %';
  const lines = ['family'.padEnd(28) + 'cases'.padStart(6) + 'match'.padStart(7) + '%'.padStart(9)];
  for (const [f, e] of [...fam].sort((a, b) => a[0].localeCompare(b[0])))
    lines.push(f.padEnd(28) + String(e.n).padStart(6) + String(e.ok).padStart(7) + pct(e.ok, e.n).padStart(9));
  const ok = results.filter((r) => r.ok).length;
  lines.push(
    'total'.padEnd(28) +
      String(results.length).padStart(6) +
      String(ok).padStart(7) +
      pct(ok, results.length).padStart(9),
  );
  return lines.join('\n');
}

/** One line per failing case: id, status/error or the first differences. */
export function failures(results: CaseResult[], max = 6): string {
  return results
    .filter((r) => !r.ok)
    .map((r) => {
      const what = r.error
        ? `${r.status} ${r.error}`
        : r.diffs
            .slice(0, max)
            .map((d) => `${d.path}: docs ${d.doc}, sandbox ${d.got}`)
            .join('; ') + (r.diffs.length > max ? ` (+${r.diffs.length - max})` : '');
      return `${r.case.id} [${r.case.oauth ? 'oauth' : 'webhook'}] ${what}`;
    })
    .join('\n');
}
