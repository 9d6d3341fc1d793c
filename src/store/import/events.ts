/**
 * One-time import of the event side's old files into the store (`b24flow migrate`):
 * - `<dataDir>/triggers/intake/<id>.json`: accepted online events not yet settled → table events (free, due now,
 *   their attempts and first-seen time kept), so the next `serve` processes them;
 * - `<dataDir>/triggers/processed.jsonl`: processed keys (`{"k": key, "t": unixMs}` per line) → processed_events;
 * - `<dataDir>/triggers/offline-state.json`: the offline worker's process ids and attempts → offline_sync
 *   (`offline`), so rows the portal still holds reserved under those ids are read again, not lost.
 * Idempotent (insert … on conflict do nothing: a second run imports nothing new); unreadable files and lines are
 * reported through `log` and skipped; the old files are left in place.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoredEvent } from '../../triggers/intake.js';
import type { OfflineSyncState } from '../../triggers/offlineSync.js';
import type { Store } from '../db.js';
import { insertProcessedKeys } from '../processed.js';

/**
 * Imports the intake, the processed keys and the offline state of `dataDir` (see module doc).
 * @param log receives one line per skipped file or line
 * @returns rows inserted now (events, keys, offline state), and what was skipped (unreadable or already there)
 */
export async function importEvents(
  store: Store,
  dataDir: string,
  log: (line: string) => void = () => {},
): Promise<{ imported: number; skipped: number }> {
  let imported = 0;
  let skipped = 0;
  const dir = join(dataDir, 'triggers', 'intake');
  let names: string[] = [];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .sort();
  } catch {}
  for (const name of names) {
    const file = join(dir, name);
    let s: StoredEvent;
    try {
      s = JSON.parse(readFileSync(file, 'utf8')) as StoredEvent;
      if (!s || typeof s.event?.name !== 'string' || typeof s.event.key !== 'string') throw new Error('not an event');
    } catch (err) {
      log(`intake: ${file} skipped: ${(err as Error).message}`);
      skipped++;
      continue;
    }
    const firstSeen = Date.parse(s.firstSeen) || Date.now();
    const r = await store.db
      .insertInto('events')
      .values({
        event_id: name.slice(0, -'.json'.length),
        event_key: s.event.key,
        body_json: JSON.stringify(s.event),
        attempts: Number(s.attempts) || 0,
        due_ms: Date.now(),
        leased_by: null,
        lease_until_ms: null,
        last_error: null,
        first_seen_ms: firstSeen,
      })
      .onConflict((oc) => oc.column('event_id').doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) > 0) imported++;
    else skipped++;
  }

  let text = '';
  try {
    text = readFileSync(join(dataDir, 'triggers', 'processed.jsonl'), 'utf8');
  } catch {}
  const byTime = new Map<number, string[]>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const o = JSON.parse(line) as { k: unknown; t: unknown };
      if (typeof o.k !== 'string' || typeof o.t !== 'number') throw new Error('not a processed key');
      byTime.set(o.t, [...(byTime.get(o.t) ?? []), o.k]);
    } catch {
      // a torn last line of a killed writer: the old store ignored it too
      log(`processed.jsonl: a line skipped (${line.slice(0, 60)})`);
      skipped++;
    }
  }
  for (const [t, keys] of byTime)
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = [...new Set(keys.slice(i, i + 500))];
      const n = await insertProcessedKeys(store.db, chunk, t);
      imported += n;
      skipped += chunk.length - n;
    }

  try {
    const raw = JSON.parse(
      readFileSync(join(dataDir, 'triggers', 'offline-state.json'), 'utf8'),
    ) as Partial<OfflineSyncState>;
    const state: OfflineSyncState = {
      processIds: Array.isArray(raw.processIds) ? raw.processIds.map(String) : [],
      attempts: raw.attempts ?? {},
      dead: raw.dead ?? {},
    };
    const r = await store.db
      .insertInto('offline_sync')
      .values({ name: 'offline', state_json: JSON.stringify(state), updated_ms: Date.now() })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (Number(r.numInsertedOrUpdatedRows ?? 0) > 0) imported++;
    else skipped++;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      log(`offline-state.json skipped: ${(err as Error).message}`);
      skipped++;
    }
  }
  return { imported, skipped };
}
