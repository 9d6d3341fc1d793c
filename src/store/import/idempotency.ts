/**
 * Import of the idempotency files (`<dataDir>/idempotency/<scope-hash>.jsonl`, one `{key, result, scope, at}` per
 * line; a torn last line is ignored): every completed key becomes a `done` row of its scope.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../db.js';
import { chunks } from '../journal.js';
import type { ImportResult } from './importers.js';

/**
 * Imports the completed keys of `dataDir` (keys already in the store are skipped: idempotent).
 * @returns keys imported and skipped
 */
export async function importIdempotency(store: Store, dataDir: string): Promise<ImportResult> {
  const r: ImportResult = { imported: 0, skipped: 0 };
  const dir = join(dataDir, 'idempotency');
  for (const n of (await readdir(dir).catch(() => [] as string[])).filter((x) => x.endsWith('.jsonl')).sort()) {
    const rows = new Map<string, { scope: string; idem_key: string; result_json: string; at_ms: number }>();
    for (const line of (await readFile(join(dir, n), 'utf8')).split('\n')) {
      if (!line.trim()) continue;
      let e: { key?: unknown; result?: unknown; scope?: unknown; at?: unknown };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        continue; // torn last line
      }
      if (typeof e.key !== 'string' || typeof e.scope !== 'string') {
        r.skipped++;
        continue;
      }
      const at = Date.parse(String(e.at ?? ''));
      rows.set(`${e.scope}\n${e.key}`, {
        scope: e.scope,
        idem_key: e.key,
        result_json: JSON.stringify(e.result ?? null),
        at_ms: Number.isFinite(at) ? at : Date.now(),
      });
    }
    for (const part of chunks([...rows.values()])) {
      const res = await store.db
        .insertInto('idempotency')
        .values(part.map((x) => ({ ...x, state: 'done', holder: null })))
        .onConflict((oc) => oc.columns(['scope', 'idem_key']).doNothing())
        .executeTakeFirst();
      const n = Number(res.numInsertedOrUpdatedRows ?? 0);
      r.imported += n;
      r.skipped += part.length - n;
    }
  }
  return r;
}
