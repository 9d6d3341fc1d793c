/**
 * The store's maintenance commands: `b24flow gc` (retention: src/store/retention.ts) and `b24flow migrate` (the
 * one-time import of a data directory's files: src/store/import).
 */
import { resolve } from 'node:path';
import { InvalidInputError } from '../../lib/failures.js';
import { jsonText } from './jsonOut.js';

function out(s: string) {
  process.stdout.write(s);
}

async function settingsAndStore() {
  const [{ readSettings }, { openDataStore }] = await Promise.all([import('../compose.js'), import('../dataStore.js')]);
  const settings = readSettings();
  return { settings, store: await openDataStore(settings) };
}

/**
 * `b24flow gc [--json]`: deletes finished runs older than `B24FLOW_RETENTION_DAYS` (default 30), idempotency and
 * processed event keys older than `B24FLOW_KEYS_RETENTION_DAYS` (default 30), and used or expired plans.
 * @throws InvalidInputError for a bad retention variable
 */
export async function runGcCommand(flags: { json?: boolean }): Promise<void> {
  const { settings, store } = await settingsAndStore();
  const { retentionOf } = await import('../retention.js');
  let days: ReturnType<typeof retentionOf>;
  try {
    days = retentionOf(settings.env);
  } catch (err) {
    throw new InvalidInputError((err as Error).message);
  }
  const { collectGarbage } = await import('../../store/retention.js');
  const n = await collectGarbage(store, days);
  if (flags.json) {
    out(jsonText({ ...n, runsDays: days.runsDays, keysDays: days.keysDays }));
    return;
  }
  out(
    `Deleted ${n.runs} run(s) finished more than ${days.runsDays} day(s) ago (with their steps and writes), ` +
      `${n.idempotency} idempotency key(s) and ${n.processed_events} processed event key(s) older than ${days.keysDays} day(s), ` +
      `${n.plans} used or expired plan(s).\n`,
  );
}

/**
 * `b24flow migrate [--data-dir dir] [--json]`: imports the files of a data directory (default the configured one)
 * into the store; idempotent; the files are left in place.
 */
export async function runMigrateCommand(flags: { dataDir?: string; json?: boolean }): Promise<void> {
  const { settings, store } = await settingsAndStore();
  const dir = resolve(flags.dataDir ?? settings.dataDir);
  const { importDataDir } = await import('../../store/import/index.js');
  // tokens are sealed with the store key: B24FLOW_STORE_KEY when set, else the key file of the data dir
  const { loadStoreKey } = await import('../../store/tokens.js');
  const results = await importDataDir(store, dir, {
    storeKey: await loadStoreKey(settings.dataDir, settings.env.B24FLOW_STORE_KEY),
  });
  if (flags.json) {
    out(jsonText({ dataDir: dir, store: store.where, results }));
    return;
  }
  out(`Importing ${dir} into ${store.where}\n`);
  for (const r of results)
    out(
      `  ${r.name.padEnd(18)} ${String(r.imported).padStart(6)} imported, ${String(r.skipped).padStart(6)} skipped (already in the store or unreadable)  from ${r.files}\n`,
    );
  out(
    `The files were left in place; once you have checked \`b24flow runs\`, you can delete them: ${results.map((r) => r.files).join(', ')}\n`,
  );
}
