/**
 * Names for plans: the people, CRM stages and statuses, pipelines (categories) and record titles that a plan's
 * writes refer to by id, read from the portal in one batch per lookup round and cached per instance for a TTL, so
 * that a person approving a plan reads "Anna Smirnova" and "В работе" instead of `11` and `C1:EXECUTING`.
 * Sources: apidocs.bitrix24.com/api-reference/user/user-get.html, api-reference/crm/status/crm-status-list.html,
 * api-reference/crm/universal/category/crm-category-list.html, api-reference/crm/universal/crm-item-get.html,
 * api-reference/crm/deals/crm-deal-get.html (and the lead, contact, company `.get` pages).
 */
import type { BatchCommand } from '../bitrix/batch.js';
import type { PipelineClient } from './client.js';
import { chunked } from './compile/batches.js';

/** A CRM record whose title is wanted: its entityTypeId (1 lead, 2 deal, 3 contact, 4 company, else crm.item). */
export interface RecordRef {
  entityTypeId: number;
  id: string | number;
}

/** What one lookup round asks for; ids already cached (and not expired) are not asked again. */
export interface NameRefs {
  /** User ids (user.get). */
  users?: Iterable<string | number>;
  /** crm.status.list reference lists by ENTITY_ID (`DEAL_STAGE`, `DEAL_STAGE_1`, `STATUS`, `SOURCE`, …). */
  statusLists?: Iterable<string>;
  /** crm.category.list by entityTypeId (2 deal pipelines, a smart process's entityTypeId, …). */
  categories?: Iterable<number>;
  /** Records whose title to read (one `.get` each, all in the round's batch). */
  records?: Iterable<RecordRef>;
}

/** Options of {@link PlanNames}. */
export interface PlanNamesOptions {
  /** How long a looked-up name (or a failed lookup) is kept, in ms (default 10 minutes). */
  ttlMs?: number;
  /** Clock in ms since epoch (default `Date.now`); tests pass their own. */
  now?: () => number;
}

/** A cached value (null: looked up, not found or refused) and when it expires (ms since epoch). */
interface Entry<T> {
  value: T | null;
  expires: number;
}

/** The legacy `.get` method of the CRM entity types that have one (others read through crm.item.get). */
const LEGACY_GET: Record<number, string> = {
  1: 'crm.lead.get',
  2: 'crm.deal.get',
  3: 'crm.contact.get',
  4: 'crm.company.get',
};

const str = (v: unknown): string => (typeof v === 'string' ? v.trim() : typeof v === 'number' ? String(v) : '');

/** "NAME LAST_NAME" of a user.get row, else LOGIN, else EMAIL; '' when none. */
function userLabel(u: Record<string, unknown>): string {
  return `${str(u.NAME)} ${str(u.LAST_NAME)}`.trim() || str(u.LOGIN) || str(u.EMAIL);
}

/** A record's title: TITLE / title, else NAME + LAST_NAME (contacts, leads without a title); '' when none. */
function recordLabel(r: Record<string, unknown>): string {
  return (
    str(r.TITLE) ||
    str(r.title) ||
    `${str(r.NAME ?? r.name)} ${str(r.LAST_NAME ?? r.lastName)}`.trim() ||
    str(r.COMPANY_TITLE ?? r.companyTitle)
  );
}

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/**
 * Resolves and caches the names a plan's writes refer to, through a {@link PipelineClient}. {@link load} sends the
 * lookups the cache lacks (or holds past the TTL) as one batch (chunks of 50 commands when more); the getters read
 * the last answer and fall back to the id when a name could not be found. Never throws for a missing name: a failed lookup (an error in the
 * batch answer, an empty answer) is cached as missing for the TTL; a batch that fails as a whole is not cached, so the
 * next round asks again.
 */
export class PlanNames {
  private readonly ttl: number;
  private readonly now: () => number;
  private readonly users = new Map<string, Entry<string>>();
  private readonly statuses = new Map<string, Entry<Map<string, string>>>();
  private readonly categories = new Map<number, Entry<Map<string, string>>>();
  private readonly records = new Map<string, Entry<string>>();

  constructor(
    private readonly client: PipelineClient,
    opts: PlanNamesOptions = {},
  ) {
    this.ttl = opts.ttlMs !== undefined && opts.ttlMs >= 0 ? opts.ttlMs : 10 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  /** Whether `key` is cached and not expired (an expired entry is asked again but still read until replaced). */
  private fresh<K, T>(map: Map<K, Entry<T>>, key: K): boolean {
    const e = map.get(key);
    return !!e && e.expires > this.now();
  }

  private put<K, T>(map: Map<K, Entry<T>>, key: K, value: T | null): void {
    map.set(key, { value, expires: this.now() + this.ttl });
  }

  /**
   * One lookup round: every name in `refs` that is not cached is asked in a single batch (more requests only past 50
   * commands). Resolves when the answers are cached; never rejects (a failed batch leaves its names unresolved).
   */
  async load(refs: NameRefs, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const asks: [BatchCommand, (result: unknown) => void][] = [];
    const seen = new Set<string>();
    const once = (k: string) => !seen.has(k) && !!seen.add(k);
    for (const raw of refs.users ?? []) {
      const id = String(raw);
      if (!/^\d+$/.test(id) || this.fresh(this.users, id) || !once(`u${id}`)) continue;
      asks.push([
        { method: 'user.get', params: { ID: id } },
        (r) => {
          const row = Array.isArray(r) ? r.find((u) => isObject(u) && String(u.ID) === id) : undefined;
          this.put(this.users, id, isObject(row) ? userLabel(row) || null : null);
        },
      ]);
    }
    for (const entityId of refs.statusLists ?? []) {
      if (this.fresh(this.statuses, entityId) || !once(`s${entityId}`)) continue;
      asks.push([
        { method: 'crm.status.list', params: { filter: { ENTITY_ID: entityId } } },
        (r) => {
          const names = new Map<string, string>();
          if (Array.isArray(r))
            for (const s of r) if (isObject(s) && str(s.NAME)) names.set(String(s.STATUS_ID), str(s.NAME));
          this.put(this.statuses, entityId, Array.isArray(r) ? names : null);
        },
      ]);
    }
    for (const etid of refs.categories ?? []) {
      if (!Number.isInteger(etid) || this.fresh(this.categories, etid) || !once(`c${etid}`)) continue;
      asks.push([
        { method: 'crm.category.list', params: { entityTypeId: etid } },
        (r) => {
          const list = isObject(r) && Array.isArray(r.categories) ? r.categories : null;
          const names = new Map<string, string>();
          for (const c of list ?? []) if (isObject(c) && str(c.name)) names.set(String(c.id), str(c.name));
          this.put(this.categories, etid, list ? names : null);
        },
      ]);
    }
    for (const ref of refs.records ?? []) {
      const key = `${ref.entityTypeId}:${ref.id}`;
      if (!/^\d+$/.test(String(ref.id)) || this.fresh(this.records, key) || !once(`r${key}`)) continue;
      const legacy = LEGACY_GET[ref.entityTypeId];
      asks.push([
        legacy
          ? { method: legacy, params: { id: ref.id } }
          : { method: 'crm.item.get', params: { entityTypeId: ref.entityTypeId, id: ref.id } },
        (r) => {
          const row = isObject(r) && isObject(r.item) ? r.item : r;
          this.put(this.records, key, isObject(row) ? recordLabel(row) || null : null);
        },
      ]);
    }
    for (const chunk of chunked(asks)) {
      const cmds: Record<string, BatchCommand> = {};
      chunk.forEach(([c], i) => {
        cmds[`n${i}`] = c;
      });
      let answer: Awaited<ReturnType<PipelineClient['batch']>>;
      try {
        answer = await this.client.batch(cmds, { halt: false, signal: opts.signal });
      } catch {
        continue; // the whole round failed (network, auth): leave these names unresolved and uncached
      }
      chunk.forEach(([, take], i) => {
        take(answer.errors?.[`n${i}`] !== undefined ? undefined : answer.results?.[`n${i}`]);
      });
    }
  }

  /** A user's name ("NAME LAST_NAME", else LOGIN or EMAIL), else `user #id` (`пользователь #id` in ru). */
  userName(id: string | number, lang: 'en' | 'ru' = 'en'): string {
    return this.users.get(String(id))?.value ?? `${lang === 'ru' ? 'пользователь' : 'user'} #${id}`;
  }

  /** The NAME of a status or stage in the crm.status.list of ENTITY_ID `entityId`, else the STATUS_ID itself. */
  statusName(entityId: string, statusId: string): string {
    return this.statuses.get(entityId)?.value?.get(statusId) ?? statusId;
  }

  /** The name of category (pipeline) `id` of entityTypeId `entityTypeId`, else the id. */
  categoryName(entityTypeId: number, id: string | number): string {
    return this.categories.get(entityTypeId)?.value?.get(String(id)) ?? String(id);
  }

  /** A record's title (TITLE, title or NAME LAST_NAME) when it was looked up and found; undefined otherwise. */
  recordTitle(ref: RecordRef): string | undefined {
    return this.records.get(`${ref.entityTypeId}:${ref.id}`)?.value ?? undefined;
  }
}
