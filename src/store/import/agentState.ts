/**
 * One-time import of the chat agent's old state files (`<dataDir>/agent/state/<user>.json`, one per user, written
 * by the removed file StateStore) into the store's `agent_state` rows. Idempotent: a user who already has a row is
 * skipped (the store's state is newer), so running it twice imports nothing new. Unreadable files are skipped. The
 * old files are left in place (the caller says so).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Store } from '../db.js';

/**
 * Imports the users' states the store does not have yet.
 * @returns states imported, and files skipped (user already in the store, or not a state document)
 * @throws the database's error
 */
export async function importAgentState(store: Store, dataDir: string): Promise<{ imported: number; skipped: number }> {
  const dir = join(dataDir, 'agent', 'state');
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { imported: 0, skipped: 0 };
    throw err;
  }
  const have = new Set((await store.db.selectFrom('agent_state').select('user_id').execute()).map((r) => r.user_id));
  let imported = 0;
  let skipped = 0;
  for (const name of names) {
    let doc: { userId?: unknown; updatedAt?: unknown };
    let text: string;
    try {
      text = await readFile(join(dir, name), 'utf8');
      doc = JSON.parse(text) as typeof doc;
    } catch {
      skipped++;
      continue;
    }
    const userId = typeof doc?.userId === 'string' ? doc.userId : '';
    if (!userId || have.has(userId)) {
      skipped++;
      continue;
    }
    const at = typeof doc.updatedAt === 'string' ? Date.parse(doc.updatedAt) : Number.NaN;
    await store.db
      .insertInto('agent_state')
      .values({ user_id: userId, state_json: JSON.stringify(doc), updated_ms: Number.isFinite(at) ? at : Date.now() })
      .onConflict((oc) => oc.column('user_id').doNothing())
      .execute();
    have.add(userId);
    imported++;
  }
  return { imported, skipped };
}
