/**
 * Saved pipelines in the store (table `saved_pipelines`, one row per version; see src/pipeline/saved.ts). A new
 * version is the next number of its name, inserted in a transaction that reads the latest first; two processes
 * saving at once get distinct numbers or one fails on the primary key and retries.
 */
import { type SavedPipeline, type SavedPipelineStore, savedHash } from '../pipeline/index.js';
import type { Store } from './db.js';
import type { SavedPipelinesTable } from './schema.js';

function view(r: SavedPipelinesTable): SavedPipeline {
  return {
    name: r.name,
    version: Number(r.version),
    text: r.body,
    hash: r.hash,
    ...(r.author ? { author: r.author } : {}),
    savedAt: new Date(Number(r.saved_ms)).toISOString(),
    disabled: Number(r.disabled) === 1,
  };
}

/** Saved pipelines on the database. */
export class SqlSavedPipelines implements SavedPipelineStore {
  constructor(private readonly store: Store) {}

  async save(name: string, text: string, author?: string): Promise<{ saved: SavedPipeline; created: boolean }> {
    const hash = savedHash(name, text);
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.store.db.transaction().execute(async (trx) => {
          const latest = await trx
            .selectFrom('saved_pipelines')
            .selectAll()
            .where('name', '=', name)
            .orderBy('version', 'desc')
            .limit(1)
            .executeTakeFirst();
          if (latest && latest.hash === hash) return { saved: view(latest), created: false };
          const row: SavedPipelinesTable = {
            name,
            version: latest ? Number(latest.version) + 1 : 1,
            body: text,
            hash,
            author: author ?? null,
            saved_ms: Date.now(),
            disabled: latest ? Number(latest.disabled) : 0,
          };
          await trx.insertInto('saved_pipelines').values(row).execute();
          return { saved: view(row), created: true };
        });
      } catch (err) {
        // another process took the same version number: read again (a few times)
        if (attempt >= 3) throw err;
      }
    }
  }

  async get(name: string, version?: number): Promise<SavedPipeline | undefined> {
    let q = this.store.db.selectFrom('saved_pipelines').selectAll().where('name', '=', name);
    q = version !== undefined ? q.where('version', '=', version) : q.orderBy('version', 'desc').limit(1);
    const r = await q.executeTakeFirst();
    return r ? view(r) : undefined;
  }

  async versions(name: string): Promise<SavedPipeline[]> {
    const rows = await this.store.db
      .selectFrom('saved_pipelines')
      .selectAll()
      .where('name', '=', name)
      .orderBy('version')
      .execute();
    return rows.map(view);
  }

  async list(): Promise<SavedPipeline[]> {
    const rows = await this.store.db
      .selectFrom('saved_pipelines as s')
      .selectAll('s')
      .where((eb) =>
        eb(
          's.version',
          '=',
          eb
            .selectFrom('saved_pipelines as n')
            .select((e) => e.fn.max('n.version').as('v'))
            .whereRef('n.name', '=', 's.name'),
        ),
      )
      .orderBy('s.name')
      .execute();
    return rows.map(view);
  }

  async setDisabled(name: string, disabled: boolean): Promise<boolean> {
    const r = await this.store.db
      .updateTable('saved_pipelines')
      .set({ disabled: disabled ? 1 : 0 })
      .where('name', '=', name)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}
