/**
 * One-time import of the old file dead-letter queue (`<dataDir>/dlq/<id>.json`, one JSON entry per file) into the
 * store (`b24flow migrate`). Each well-formed entry is inserted as it is (its id, times and attempts kept) unless an
 * entry of that id or event key is there already, so running it twice imports nothing new. A file that is not a
 * dead letter (torn JSON, wrong shape, id not its file name) is reported through `log` and skipped. The old files
 * are left in place.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DeadLetter, deadLetterShapeError } from '../../triggers/dlq.js';
import type { Store } from '../db.js';
import { insertDeadLetterIfAbsent } from '../dlq.js';

/**
 * Imports `<dataDir>/dlq/*.json` (see module doc).
 * @param log receives one line per skipped file (its path and why)
 * @returns entries inserted now, and files skipped (malformed) or already in the store
 */
export async function importDeadLetters(
  store: Store,
  dataDir: string,
  log: (line: string) => void = () => {},
): Promise<{ imported: number; skipped: number }> {
  const dir = join(dataDir, 'dlq');
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .sort();
  } catch {
    return { imported: 0, skipped: 0 };
  }
  let imported = 0;
  let skipped = 0;
  for (const name of names) {
    const file = join(dir, name);
    const id = name.slice(0, -'.json'.length);
    let v: unknown;
    try {
      v = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      log(`dlq: ${file} skipped: ${(err as Error).message}`);
      skipped++;
      continue;
    }
    const bad = deadLetterShapeError(v) ?? ((v as DeadLetter).id !== id ? 'its id is not its file name' : undefined);
    if (bad) {
      log(`dlq: ${file} skipped: ${bad}`);
      skipped++;
      continue;
    }
    if (await insertDeadLetterIfAbsent(store.db, v as DeadLetter)) imported++;
    else skipped++;
  }
  return { imported, skipped };
}
