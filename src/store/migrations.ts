/**
 * Versioned migrations of the store, the same on SQLite and PostgreSQL (Kysely's schema builder emits each
 * dialect's DDL). A migration is never edited once released: a change is a new entry. Kysely's migrator records
 * what ran in `kysely_migration` and holds a lock while migrating, so two processes starting at once migrate once.
 */
import { type Kysely, sql } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';

/** Milliseconds fit a 64-bit integer; SQLite's INTEGER is 64-bit, PostgreSQL needs `bigint`. */
const MS = 'bigint';

const v1: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('runs')
      .addColumn('run_id', 'text', (c) => c.primaryKey())
      .addColumn('pipeline', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('mode', 'text')
      .addColumn('owner_json', 'text')
      .addColumn('started_ms', MS, (c) => c.notNull())
      .addColumn('updated_ms', MS, (c) => c.notNull())
      .addColumn('finished_ms', MS)
      .addColumn('record_json', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('runs_started').on('runs').column('started_ms').execute();
    await db.schema.createIndex('runs_pipeline').on('runs').columns(['pipeline', 'started_ms']).execute();
    await db.schema
      .createTable('run_steps')
      .addColumn('run_id', 'text', (c) => c.notNull().references('runs.run_id').onDelete('cascade'))
      .addColumn('step_id', 'text', (c) => c.notNull())
      .addColumn('ord', 'integer', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('method', 'text')
      .addColumn('record_json', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('run_steps_pk', ['run_id', 'step_id'])
      .execute();
    await db.schema
      .createTable('step_results')
      .addColumn('run_id', 'text', (c) => c.notNull().references('runs.run_id').onDelete('cascade'))
      .addColumn('step_id', 'text', (c) => c.notNull())
      .addColumn('value_json', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('step_results_pk', ['run_id', 'step_id'])
      .execute();
    await db.schema
      .createTable('run_writes')
      .addColumn('run_id', 'text', (c) => c.notNull().references('runs.run_id').onDelete('cascade'))
      .addColumn('write_key', 'text', (c) => c.notNull())
      .addColumn('step_id', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('result_json', 'text')
      .addColumn('error', 'text')
      .addColumn('origin', 'text')
      .addColumn('at_ms', MS, (c) => c.notNull())
      .addPrimaryKeyConstraint('run_writes_pk', ['run_id', 'write_key'])
      .execute();
    await db.schema
      .createTable('idempotency')
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('idem_key', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull().defaultTo('done'))
      .addColumn('holder', 'text')
      .addColumn('result_json', 'text')
      .addColumn('at_ms', MS, (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotency_pk', ['scope', 'idem_key'])
      .execute();
    await db.schema.createIndex('idempotency_at').on('idempotency').column('at_ms').execute();
    await db.schema
      .createTable('plans')
      .addColumn('plan_id', 'text', (c) => c.primaryKey())
      .addColumn('body_json', 'text', (c) => c.notNull())
      .addColumn('created_ms', MS, (c) => c.notNull())
      .addColumn('expires_ms', MS, (c) => c.notNull())
      .addColumn('used_ms', MS)
      .execute();
    await db.schema
      .createTable('settings')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('updated_ms', MS, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('events')
      .addColumn('event_id', 'text', (c) => c.primaryKey())
      .addColumn('event_key', 'text', (c) => c.notNull())
      .addColumn('body_json', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('due_ms', MS, (c) => c.notNull())
      .addColumn('leased_by', 'text')
      .addColumn('lease_until_ms', MS)
      .addColumn('last_error', 'text')
      .addColumn('first_seen_ms', MS, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('events_due').on('events').columns(['due_ms', 'first_seen_ms']).execute();
    await db.schema
      .createTable('offline_sync')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('state_json', 'text', (c) => c.notNull())
      .addColumn('updated_ms', MS, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('processed_events')
      .addColumn('event_key', 'text', (c) => c.primaryKey())
      .addColumn('at_ms', MS, (c) => c.notNull())
      .execute();
    await db.schema.createIndex('processed_events_at').on('processed_events').column('at_ms').execute();
    await db.schema
      .createTable('dead_letters')
      .addColumn('letter_id', 'text', (c) => c.primaryKey())
      .addColumn('event_key', 'text', (c) => c.notNull().unique())
      .addColumn('body_json', 'text', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('error', 'text', (c) => c.notNull())
      .addColumn('first_seen_ms', MS, (c) => c.notNull())
      .addColumn('last_seen_ms', MS, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('dead_letters_first_seen')
      .on('dead_letters')
      .columns(['first_seen_ms', 'letter_id'])
      .execute();
    await db.schema
      .createTable('tokens')
      .addColumn('member_id', 'text', (c) => c.primaryKey())
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('updated_ms', MS, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('agent_state')
      .addColumn('user_id', 'text', (c) => c.primaryKey())
      .addColumn('state_json', 'text', (c) => c.notNull())
      .addColumn('updated_ms', MS, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('schedule_slots')
      .addColumn('schedule_id', 'text', (c) => c.notNull())
      .addColumn('slot_ms', MS, (c) => c.notNull())
      .addColumn('pipeline', 'text', (c) => c.notNull())
      .addColumn('claimed_by', 'text', (c) => c.notNull())
      .addColumn('run_id', 'text')
      .addColumn('at_ms', MS, (c) => c.notNull())
      .addPrimaryKeyConstraint('schedule_slots_pk', ['schedule_id', 'slot_ms'])
      .execute();
    await db.schema
      .createTable('schedule_log')
      .addColumn('log_id', 'text', (c) => c.primaryKey())
      .addColumn('at_ms', MS, (c) => c.notNull())
      .addColumn('pipeline', 'text', (c) => c.notNull())
      .addColumn('scheduled_ms', MS, (c) => c.notNull())
      .addColumn('what', 'text', (c) => c.notNull())
      .addColumn('line_json', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('schedule_log_at').on('schedule_log').column('at_ms').execute();
    await db.schema
      .createTable('limiter')
      .addColumn('portal', 'text', (c) => c.primaryKey())
      .addColumn('tokens', 'double precision', (c) => c.notNull())
      .addColumn('updated_ms', MS, (c) => c.notNull())
      .addColumn('state_json', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('leases')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('holder', 'text', (c) => c.notNull())
      .addColumn('until_ms', MS, (c) => c.notNull())
      .execute();
  },
};

/**
 * Chat users linked to Bitrix24 users (issue 14): `chat_links` (one link per chat user, looked up both ways: by chat
 * user and, through `chat_links_user`, the chats of a Bitrix24 user on a portal) and `link_codes` (pending one-time
 * codes, only their SHA-256, bound to the chat user who asked and the Bitrix24 user they link to).
 */
const v2: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('chat_links')
      .addColumn('chat_user_id', 'text', (c) => c.primaryKey())
      .addColumn('bitrix_user_id', 'text', (c) => c.notNull())
      .addColumn('portal', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('linked_ms', MS)
      .execute();
    await db.schema.createIndex('chat_links_user').on('chat_links').columns(['portal', 'bitrix_user_id']).execute();
    await db.schema
      .createTable('link_codes')
      .addColumn('code_hash', 'text', (c) => c.primaryKey())
      .addColumn('chat_user_id', 'text', (c) => c.notNull())
      .addColumn('bitrix_user_id', 'text', (c) => c.notNull())
      .addColumn('portal', 'text')
      .addColumn('expires_ms', MS)
      .execute();
    await db.schema.createIndex('link_codes_chat_user').on('link_codes').column('chat_user_id').execute();
  },
};

/** Approval requests and their decisions (src/store/approvals.ts). */
const v3: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('approvals')
      .addColumn('approval_id', 'text', (c) => c.primaryKey())
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('pipeline', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('request_json', 'text', (c) => c.notNull())
      .addColumn('seal', 'text', (c) => c.notNull())
      .addColumn('applied_run', 'text')
      .addColumn('note', 'text')
      .addColumn('created_ms', MS, (c) => c.notNull())
      .addColumn('expires_ms', MS, (c) => c.notNull())
      .addColumn('updated_ms', MS, (c) => c.notNull())
      .addColumn('notified_ms', MS)
      .addColumn('reminded_ms', MS)
      .addColumn('change_key', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('approvals_state').on('approvals').columns(['state', 'expires_ms']).execute();
    // one pending request per change (pipeline, portal, content hash): two runs asking at once store one
    await db.schema
      .createIndex('approvals_pending_change')
      .on('approvals')
      .column('change_key')
      .unique()
      .where(sql.ref('state'), '=', 'pending')
      .execute();
    await db.schema.createIndex('approvals_run').on('approvals').column('run_id').execute();
    await db.schema
      .createTable('approval_decisions')
      .addColumn('approval_id', 'text', (c) => c.notNull().references('approvals.approval_id').onDelete('cascade'))
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('decision', 'text', (c) => c.notNull())
      .addColumn('via', 'text', (c) => c.notNull())
      .addColumn('confirmed_destructive', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('reason', 'text')
      .addColumn('at_ms', MS, (c) => c.notNull())
      .addPrimaryKeyConstraint('approval_decisions_pk', ['approval_id', 'user_id'])
      .execute();
  },
};

/** Sessions of the web console and its one-time sign-in links (src/store/consoleSessions.ts). */
const v4: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('console_sessions')
      .addColumn('session_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text')
      .addColumn('csrf', 'text', (c) => c.notNull())
      .addColumn('created_ms', MS, (c) => c.notNull())
      .addColumn('expires_ms', MS, (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('console_links')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('expires_ms', MS, (c) => c.notNull())
      .execute();
  },
};

/** Saved pipelines, one row per version (src/store/savedPipelines.ts). */
const v5: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('saved_pipelines')
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('body', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('author', 'text')
      .addColumn('saved_ms', MS, (c) => c.notNull())
      .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
      .addPrimaryKeyConstraint('saved_pipelines_pk', ['name', 'version'])
      .execute();
  },
};

/** Every migration, by name in order (`0001_…`). */
export const MIGRATIONS: Record<string, Migration> = {
  '0001_store': v1,
  '0002_chat_links': v2,
  '0003_approvals': v3,
  '0004_console': v4,
  '0005_saved_pipelines': v5,
};

/** The migrations for Kysely's migrator. */
export const migrationProvider: MigrationProvider = {
  getMigrations: async () => MIGRATIONS,
};
