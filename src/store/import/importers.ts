/**
 * `b24flow migrate`: the list of importers. The one-time import of a data directory's files (as the file stores before the store wrote
 * them) into the store. Every importer is idempotent (running it again imports nothing new) and leaves the files in
 * place. To add one: write `src/store/import/<domain>.ts` exporting `import<Domain>(store, dataDir)` and add one
 * line to {@link IMPORTERS}.
 */
import type { Store } from '../db.js';
import { importAgentState } from './agentState.js';
import { importDeadLetters } from './dlq.js';
import { importEvents } from './events.js';
import { importIdempotency } from './idempotency.js';
import { importPlans } from './plans.js';
import { importRuns } from './runs.js';
import { importTokens } from './tokens.js';

/** What one importer did: items imported, and items skipped (already in the store, or unreadable). */
export interface ImportResult {
  imported: number;
  skipped: number;
}

/** What importers may need besides the data dir: the store key that seals tokens (`B24FLOW_STORE_KEY`, decoded). */
export interface ImportContext {
  storeKey?: Buffer;
}

/** One importer: its name, the files it reads (relative to the data dir, for messages) and the function. */
export interface Importer {
  name: string;
  files: string;
  run(store: Store, dataDir: string, ctx: ImportContext): Promise<ImportResult>;
}

/** Every importer, in the order `migrate` runs them (one line each). */
export const IMPORTERS: Importer[] = [
  { name: 'runs', files: 'runs/', run: importRuns },
  { name: 'plans', files: 'plans/, plan-key', run: importPlans },
  { name: 'idempotency keys', files: 'idempotency/', run: importIdempotency },
  { name: 'dead letters', files: 'dlq/', run: (s, d) => importDeadLetters(s, d) },
  {
    name: 'events',
    files: 'triggers/intake/, triggers/processed.jsonl, triggers/offline-state.json',
    run: (s, d) => importEvents(s, d),
  },
  {
    name: 'OAuth tokens',
    files: 'tokens.json',
    run: (s, d, c) => importTokens(s, d, c.storeKey ? { key: c.storeKey } : {}),
  },
  { name: 'agent state', files: 'agent/state/', run: (s, d) => importAgentState(s, d) },
];

/**
 * Runs every importer against `dataDir`.
 * @returns per importer its result
 * @throws the first importer's error (the ones before it have committed what they imported)
 */
export async function importDataDir(
  store: Store,
  dataDir: string,
  ctx: ImportContext = {},
): Promise<{ name: string; files: string; imported: number; skipped: number }[]> {
  const out = [];
  for (const i of IMPORTERS) out.push({ name: i.name, files: i.files, ...(await i.run(store, dataDir, ctx)) });
  return out;
}
