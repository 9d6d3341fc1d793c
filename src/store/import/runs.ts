/**
 * Import of the run journal files of a data directory (as the file journal before the store wrote them):
 * `runs/<run-id>/run.json` (the run record, replaced atomically), `runs/<run-id>/writes.jsonl` (write intents and
 * outcomes, copies of the running record `{"run": …}` and of step results `{"result": step, "value": …}`; a torn
 * last line is ignored) and, in older journals, `runs/<run-id>/steps/<step>.json`. The record of a run that was
 * still running is the newest of run.json and the last copy in the log (as the file journal read it).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunRecord, WriteEntry } from '../../pipeline/index.js';
import type { Store } from '../db.js';
import { SqlJournal } from '../journal.js';
import type { ImportResult } from './importers.js';

const SAFE_ID = /^[A-Za-z0-9_.-]{1,128}$/;

async function lines(file: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return [];
  }
  const out: Record<string, unknown>[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // torn line after a crash
    }
  }
  return out;
}

/** One run directory: its record, step results and latest write per key (undefined when it holds no record). */
export async function readRunDir(
  dir: string,
): Promise<{ run: RunRecord; results: Map<string, unknown>; writes: WriteEntry[] } | undefined> {
  let file: RunRecord | undefined;
  try {
    file = JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')) as RunRecord;
  } catch {
    // missing or torn: the log's copy, if any
  }
  const log = await lines(join(dir, 'writes.jsonl'));
  const results = new Map<string, unknown>();
  for (const n of await readdir(join(dir, 'steps')).catch(() => [] as string[])) {
    if (!n.endsWith('.json')) continue;
    try {
      results.set(n.slice(0, -5), JSON.parse(await readFile(join(dir, 'steps', n), 'utf8')));
    } catch {
      // unreadable: resume runs the step again
    }
  }
  let last: RunRecord | undefined;
  const writes = new Map<string, WriteEntry>();
  for (const e of log) {
    if ('run' in e) last = e.run as RunRecord;
    else if (typeof e.result === 'string' && 'value' in e) results.set(e.result, e.value);
    else if (typeof e.key === 'string') {
      const w = e as unknown as WriteEntry;
      // a done entry is final: a later intent (resume re-check) never downgrades it
      if (writes.get(w.key)?.state === 'done' && w.state !== 'done') continue;
      writes.set(w.key, w);
    }
  }
  const run = file && file.status !== 'running' ? file : last ? { ...last, owner: last.owner ?? file?.owner } : file;
  if (!run || typeof run.runId !== 'string' || !run.pipeline) return undefined;
  run.steps ??= {};
  return { run: run as RunRecord, results, writes: [...writes.values()] };
}

/**
 * Imports `<dataDir>/runs/*` into the store (runs already there are skipped: idempotent). The files are left.
 * @returns runs imported and skipped (already in the store, or unreadable)
 */
export async function importRuns(store: Store, dataDir: string): Promise<ImportResult> {
  const root = join(dataDir, 'runs');
  const names = await readdir(root).catch(() => [] as string[]);
  const journal = new SqlJournal(store);
  const r: ImportResult = { imported: 0, skipped: 0 };
  for (const n of names.sort()) {
    if (!SAFE_ID.test(n) || n.startsWith('.')) continue;
    const got = await readRunDir(join(root, n));
    if (!got || got.run.runId !== n) {
      r.skipped++;
      continue;
    }
    if (await journal.importRun(got.run, got.results, got.writes)) r.imported++;
    else r.skipped++;
  }
  return r;
}
