/**
 * The portal state: tables, user fields, webhooks, the OAuth app and tokens, the event hub, the limiters,
 * server-side counters and injected faults. Persisted to `<dataDir>/portal.ndjson` with atomic writes (see
 * {@link encodeSnapshot}). What a portal holds follows the Bitrix24 REST docs of each method family (see the
 * method modules); the scopes are those of api-reference/scopes (apidocs.bitrix24.com).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeFileAtomicSync } from '../lib/atomic.js';
import { dynamicDef, dynamicName, dynamicStageEntity, dynamicTypeId } from './dynamicEntities.js';
import { ENTITIES, ENTITY_TYPE_IDS } from './entities.js';
import type { EntityDef, FieldDef } from './entityFields.js';
import { EventHub } from './events.js';
import { allFields, type UserFieldDef } from './fieldViews.js';
import { LeakyBucket, OperatingBudget, type Plan } from './limits.js';
import { labelIn, labelMap, settingsFor } from './methods/userfields.js';
import { issueTokens, newOAuthState, type OAuthState, pruneTokens, serverEndpoint } from './oauth.js';
import { encodeSnapshot, readSnapshot } from './portalSnapshot.js';
import { isoDate, SandboxClock } from './portalTime.js';
import { type Row, Table } from './store.js';

/** Names of the built-in tables. */
export const TABLES = [
  'deal',
  'lead',
  'contact',
  'company',
  'activity',
  'timeline_comment',
  'status',
  'category',
  'user',
  'department',
  'task',
  'task_comment',
  'checklist_item',
  'workgroup',
  'workgroup_member',
  'im_message',
  'notification',
  'userfield',
  'crm_type',
] as const;

/** A built-in table name. */
export type TableName = (typeof TABLES)[number];

/** Every scope the default webhook and the app get. */
export const ALL_SCOPES = [
  'crm',
  'task',
  'tasks',
  'user',
  'user_brief',
  'user_basic',
  'department',
  'sonet_group',
  'im',
  'imbot',
  'basic',
  'placement',
  'entity',
  'disk',
  'calendar',
  'bizproc',
  'lists',
  'log',
  'telephony',
  'timeman',
  'catalog',
  'sale',
  'landing',
  'documentgenerator',
  'userfieldconfig',
];

/** An incoming webhook. */
export interface Webhook {
  userId: number;
  scopes: string[] | null;
}

/** Injected fault for the next N calls of a method. */
export interface Fault {
  kind: 'reset' | '500' | 'html' | 'timeout' | 'reset_after' | 'lost-answer' | '503' | '429' | '401';
  count: number;
}

/** Server-side counters (GET /sandbox/stats). */
export interface SandboxStats {
  requests: number;
  byMethod: Record<string, number>;
  status: Record<string, number>;
  writes: Record<string, number>;
  /** REST 3.0 (`/rest/api/…`) requests: all, those carrying an `Idempotency-Key`, and per method. */
  v3: { requests: number; keyed: number; byMethod: Record<string, number> };
}

/** Fresh, zeroed counters. */
export function emptyStats(): SandboxStats {
  return { requests: 0, byMethod: {}, status: {}, writes: {}, v3: { requests: 0, keyed: 0, byMethod: {} } };
}

/** Constructor options (the defaults are chosen by startSandbox). */
export interface PortalOptions {
  /** data seed (kept in the snapshot) */
  seed: number;
  /** deal count of a fresh portal */
  deals: number;
  /** leaky-bucket preset */
  plan: Plan;
  /** seconds of operating budget per method per 10 min; 0 disables the 429 */
  operatingLimit: number;
  /** sandbox clock speed-up (1 = real time) */
  clockFactor: number;
  /** persist the portal here (portal.ndjson + portal.lock); in-memory when absent */
  dataDir?: string;
  /** progress and warning lines (stderr in the CLI) */
  log: (line: string) => void;
  /**
   * Fills the tables of a fresh portal (called once, when no snapshot is restored from `dataDir`); the sandbox
   * passes the seeded generator of seed.ts here, so the portal state does not depend on how it is populated.
   */
  populate: (portal: Portal) => void;
  /**
   * false: the portal has no REST 3.0 — every `/rest/api/…` call is answered 404 `ERROR_METHOD_NOT_FOUND` like an
   * unknown method (an older or on-premise portal); default true.
   */
  restV3?: boolean;
}

const SNAPSHOT_VERSION = 1;

/** The emulated portal. */
export class Portal {
  readonly clock: SandboxClock;
  readonly t: Record<TableName, Table>;
  /** generic CRUD tables for methods outside the curated set, by entity path */
  readonly generic = new Map<string, Table>();
  webhooks = new Map<string, Webhook>();
  defaultWebhookCode = '';
  oauth: OAuthState;
  readonly events: EventHub;
  readonly bucket: LeakyBucket;
  readonly budget: OperatingBudget;
  stats: SandboxStats = emptyStats();
  readonly faults = new Map<string, Fault>();
  /** REST 3.0 Idempotency-Key cache: key → { hash, body, at } */
  readonly idempotency = new Map<string, { hash: string; body: string; status: number; at: number }>();
  counters = { multifield: 0 };
  baseUrl = '';
  private saveTimer: NodeJS.Timeout | null = null;
  private lastSaveMs = 0;
  private saving: Promise<void> | null = null;

  constructor(readonly opts: PortalOptions) {
    this.clock = new SandboxClock(opts.clockFactor);
    this.t = Object.fromEntries(TABLES.map((n) => [n, new Table(n)])) as Record<TableName, Table>;
    this.bucket = new LeakyBucket(opts.plan);
    this.budget = new OperatingBudget(opts.operatingLimit);
    this.oauth = newOAuthState(ALL_SCOPES);
    this.events = new EventHub({
      now: () => this.clock.now(),
      eventAuth: (userId, withRefresh) => this.eventAuth(userId, withRefresh),
      log: opts.log,
      dirty: () => this.dirty(),
    });
    const file = this.file();
    if (opts.dataDir) this.takeLock(opts.dataDir);
    if (file && existsSync(file)) this.restore(readSnapshot(readFileSync(file)));
    else {
      opts.populate(this);
      this.defaultWebhookCode = this.addWebhook(1, null);
      if (file) this.saveSync();
    }
  }

  /** Path of the snapshot file, when persisting. */
  file(): string | null {
    return this.opts.dataDir ? join(this.opts.dataDir, 'portal.ndjson') : null;
  }

  /** Registers a webhook; returns its secret code. */
  addWebhook(userId: number, scopes: string[] | null): string {
    const code = randomBytes(8).toString('hex');
    this.webhooks.set(code, { userId, scopes });
    this.dirty();
    return code;
  }

  /** Adds a crm.status row. */
  addStatus(
    entity: string,
    statusId: string,
    name: string,
    sort: number,
    color: string | null,
    semantics: string | null,
    categoryId: number | null,
  ): Row {
    return this.t.status.insert({
      ENTITY_ID: entity,
      STATUS_ID: statusId,
      NAME: name,
      NAME_INIT: name,
      SORT: sort,
      SYSTEM: semantics || statusId === 'NEW' || statusId.endsWith(':NEW') ? 'Y' : 'N',
      CATEGORY_ID: categoryId,
      COLOR: color,
      SEMANTICS: semantics,
    });
  }

  /**
   * Adds a user field definition (UPPER keys as crm.*.userfield.add takes them). A string label becomes a language
   * map (`{ru: …, en: …, …}`, every language the same) and SETTINGS defaults to the type's documented keys
   * (methods/userfields.ts renders both).
   */
  ufAdd(f: Record<string, unknown> & { ENTITY_ID: string; FIELD_NAME: string; USER_TYPE_ID: string }): Row {
    const row: Row = {
      XML_ID: null,
      SORT: 100,
      MULTIPLE: 'N',
      MANDATORY: 'N',
      SHOW_FILTER: 'N',
      SHOW_IN_LIST: 'Y',
      EDIT_IN_LIST: 'Y',
      IS_SEARCHABLE: 'N',
      SETTINGS: undefined,
      LIST: undefined,
      ...f,
    };
    row.SETTINGS ??= settingsFor(f.USER_TYPE_ID, undefined);
    const label = labelIn(row.EDIT_FORM_LABEL) || f.FIELD_NAME;
    for (const k of ['EDIT_FORM_LABEL', 'LIST_COLUMN_LABEL', 'LIST_FILTER_LABEL'])
      row[k] = labelMap(row[k] ?? label, label);
    row.ERROR_MESSAGE ??= null;
    row.HELP_MESSAGE ??= null;
    return this.t.userfield.insert(row);
  }

  /** User fields of an entity (`CRM_DEAL`, …). */
  ufs(ufEntityId: string | undefined): UserFieldDef[] {
    if (!ufEntityId) return [];
    return this.t.userfield.rows.filter((r) => r.ENTITY_ID === ufEntityId) as UserFieldDef[];
  }

  /** bumped when a user field definition changes in place (add/delete change the table itself) */
  ufEpoch = 0;
  private fieldCache = new Map<string, { key: string; fields: Record<string, FieldDef> }>();

  /** Fields of an entity including its user fields (cached until the user-field table changes). */
  fields(def: EntityDef): Record<string, FieldDef> {
    const uf = this.t.userfield;
    const key = `${uf.size}|${uf.nextId}|${this.ufEpoch}|${this.t.crm_type.nextId}`;
    const hit = this.fieldCache.get(def.name);
    if (hit && hit.key === key) return hit.fields;
    const fields = allFields(def, this.ufs(def.ufEntityId));
    this.fieldCache.set(def.name, { key, fields });
    return fields;
  }

  /** Entity definition by name (a built-in entity, or `dynamic_<entityTypeId>` of an existing smart process). */
  def(name: string): EntityDef {
    const builtIn = ENTITIES[name];
    if (builtIn) return builtIn;
    const type = this.dynamicType(dynamicTypeId(name) ?? -1);
    if (!type) throw new Error(`sandbox: unknown entity ${name}`);
    return dynamicDef(type);
  }

  /** The stored smart process type (`crm_type` row) of an entityTypeId, if it exists. */
  dynamicType(entityTypeId: number): Row | undefined {
    return this.t.crm_type.rows.find((r) => r.entityTypeId === entityTypeId);
  }

  /** Entity name of a `crm.item.*` entityTypeId: lead/deal/contact/company or an existing smart process. */
  entityOfType(entityTypeId: number): string | undefined {
    return ENTITY_TYPE_IDS[entityTypeId] ?? (this.dynamicType(entityTypeId) ? dynamicName(entityTypeId) : undefined);
  }

  /** Rows of an entity: its built-in table, or the item table of a smart process (kept with the generic tables). */
  table(entity: string): Table {
    return dynamicTypeId(entity) === null ? this.t[entity as TableName] : this.genericTable(entity);
  }

  /** Stages of a deal pipeline, in sort order. */
  stages(categoryId: number): Row[] {
    const entity = categoryId === 0 ? 'DEAL_STAGE' : `DEAL_STAGE_${categoryId}`;
    return this.t.status.rows.filter((r) => r.ENTITY_ID === entity).sort((a, b) => a.SORT - b.SORT);
  }

  /** Stages of a smart process pipeline (`DYNAMIC_<entityTypeId>_STAGE_<categoryId>`), in sort order. */
  dynamicStages(entityTypeId: number, categoryId: number): Row[] {
    const entity = dynamicStageEntity(entityTypeId, categoryId);
    return this.t.status.rows.filter((r) => r.ENTITY_ID === entity).sort((a, b) => a.SORT - b.SORT);
  }

  /** Semantic group (`P`, `S`, `F`) of a status row. */
  semantic(entity: string, statusId: string): string {
    const r = this.t.status.rows.find((x) => x.ENTITY_ID === entity && x.STATUS_ID === statusId);
    return r?.SEMANTICS ?? 'P';
  }

  /** "First Last" of a user. */
  userName(id: unknown): string {
    const u = this.t.user.get(id);
    return u ? `${u.NAME} ${u.LAST_NAME}`.trim() : '';
  }

  /** Table for generic CRUD of an entity path (created on first use). */
  genericTable(entity: string): Table {
    let t = this.generic.get(entity);
    if (!t) {
      t = new Table(entity);
      this.generic.set(entity, t);
    }
    return t;
  }

  /** `auth` block of an outgoing event (app auth, with a fresh access token). */
  eventAuth(userId: number, withRefresh: boolean): Record<string, unknown> {
    if (!withRefresh && !this.oauth.app.installed) {
      // no app installed (outgoing webhooks only): nothing to mint tokens for
      return {
        domain: this.domain(),
        client_endpoint: this.baseUrl + '/rest/',
        server_endpoint: this.baseUrl + '/rest/',
        member_id: this.oauth.app.memberId,
        application_token: this.oauth.app.applicationToken,
      };
    }
    const now = this.clock.now();
    const tokens = issueTokens(this.oauth, userId, now);
    const a: Record<string, unknown> = {
      access_token: tokens.access_token,
      expires: String(tokens.expires),
      expires_in: String(tokens.expires_in),
      scope: this.oauth.app.scope.join(','),
      domain: this.domain(),
      server_endpoint: serverEndpoint(this.oauth, this.baseUrl),
      status: 'L',
      client_endpoint: this.baseUrl + '/rest/',
      member_id: this.oauth.app.memberId,
      user_id: String(userId),
      application_token: this.oauth.app.applicationToken,
    };
    if (withRefresh) a.refresh_token = tokens.refresh_token;
    else delete this.oauth.refresh[tokens.refresh_token];
    return a;
  }

  /** Portal domain (host:port of the sandbox). */
  domain(): string {
    return this.baseUrl.replace(/^https?:\/\//, '');
  }

  /** ISO date of the sandbox clock. */
  nowIso(): string {
    return isoDate(this.clock.now());
  }

  /** Marks the state changed; persists within ~0.5 s when a data dir is set. */
  dirty(): void {
    if (!this.opts.dataDir || this.saveTimer) return;
    // encoding a big portal blocks the event loop, so the pause between saves grows with the cost of a save
    this.saveTimer = setTimeout(
      () => {
        this.saveTimer = null;
        const t0 = performance.now();
        const data = encodeSnapshot(this.snapshot());
        this.lastSaveMs = performance.now() - t0;
        this.saving = writeFileAtomic(this.file()!, data, 0o600).catch((e) =>
          this.opts.log(`sandbox: could not persist state: ${(e as Error).message}`),
        );
      },
      Math.max(500, this.lastSaveMs * 4),
    );
    this.saveTimer.unref();
  }

  /** Writes pending state now (close path). */
  async flush(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = null;
      if (this.opts.dataDir) await writeFileAtomic(this.file()!, encodeSnapshot(this.snapshot()), 0o600);
    }
    await this.saving;
  }

  /** Releases the data-dir lock (close path). */
  releaseLock(): void {
    if (!this.opts.dataDir) return;
    const lock = join(this.opts.dataDir, 'portal.lock');
    try {
      if (readFileSync(lock, 'utf8').trim() === String(process.pid)) unlinkSync(lock);
    } catch {}
  }

  /**
   * Two live sandboxes on one data dir would overwrite each other's snapshot (last writer wins), so the dir is
   * marked with `portal.lock` (our pid) and a second user is warned on stderr.
   */
  private takeLock(dir: string): void {
    const lock = join(dir, 'portal.lock');
    try {
      const other = Number(readFileSync(lock, 'utf8').trim());
      if (other && other !== process.pid && pidAlive(other)) {
        this.opts.log(
          `sandbox: warning: process ${other} also uses ${dir}; the last one to save overwrites the other's changes`,
        );
        return;
      }
    } catch {}
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(lock, String(process.pid));
    } catch {}
  }

  private saveSync(): void {
    writeFileAtomicSync(this.file()!, encodeSnapshot(this.snapshot()), 0o600);
  }

  /** Serializable state. */
  snapshot(): Record<string, unknown> {
    pruneTokens(this.oauth, this.clock.now());
    const tables: Record<string, { nextId: number; rows: Row[] }> = {};
    for (const n of TABLES) tables[n] = { nextId: this.t[n].nextId, rows: this.t[n].rows };
    const generic: Record<string, { nextId: number; rows: Row[] }> = {};
    for (const [n, t] of this.generic) generic[n] = { nextId: t.nextId, rows: t.rows };
    return {
      version: SNAPSHOT_VERSION,
      seed: this.opts.seed,
      savedAt: new Date().toISOString(),
      counters: this.counters,
      tables,
      generic,
      webhooks: Object.fromEntries(this.webhooks),
      defaultWebhookCode: this.defaultWebhookCode,
      oauth: this.oauth,
      events: {
        bindings: this.events.bindings,
        offline: this.events.offline,
        nextBindingId: this.events.nextBindingId,
        nextOfflineId: this.events.nextOfflineId,
      },
    };
  }

  private restore(s: any): void {
    if (s.version !== SNAPSHOT_VERSION) throw new Error(`unsupported sandbox snapshot version ${s.version}`);
    this.counters = s.counters;
    for (const n of TABLES) {
      const t = s.tables[n];
      if (t) this.t[n].load(t.rows, t.nextId);
    }
    for (const [n, t] of Object.entries<any>(s.generic ?? {})) this.genericTable(n).load(t.rows, t.nextId);
    this.webhooks = new Map(Object.entries(s.webhooks));
    this.defaultWebhookCode = s.defaultWebhookCode;
    this.oauth = s.oauth;
    this.events.bindings = s.events.bindings;
    this.events.offline = s.events.offline;
    this.events.nextBindingId = s.events.nextBindingId;
    this.events.nextOfflineId = s.events.nextOfflineId;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
