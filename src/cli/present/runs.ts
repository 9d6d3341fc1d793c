/**
 * Run history (`b24flow runs`, `b24flow runs show <id>`): queries of the store's journal (src/store/journal.ts) —
 * the runs newest first, and one run with its steps and its write log.
 */
import { InvalidInputError } from '../../lib/failures.js';
import type { RunRecord, RunStatus, WriteEntry } from '../../pipeline/index.js';
import { jsonText } from './jsonOut.js';
import { formatRunRecord } from './pipeline.js';

function out(s: string) {
  process.stdout.write(s);
}

/** The store's journal of the configured store (opened once per process). */
async function journal() {
  const [{ readSettings }, { storeRunSettings }] = await Promise.all([
    import('../compose.js'),
    import('../runSettings.js'),
  ]);
  return (await storeRunSettings(readSettings())).journal;
}

const STATUSES: RunStatus[] = [
  'running',
  'completed',
  'planned',
  'refused',
  'blocked',
  'failed',
  'partial',
  'interrupted',
];

/**
 * `b24flow runs [--json] [--limit n] [--pipeline name] [--status s]`: runs newest first.
 * @throws InvalidInputError for an unknown status or a bad limit
 */
export async function runRunsCommand(flags: {
  json?: boolean;
  limit?: string;
  pipeline?: string;
  status?: string;
}): Promise<void> {
  const limit = Number(flags.limit ?? 50);
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidInputError('--limit must be a positive whole number');
  if (flags.status && !STATUSES.includes(flags.status as RunStatus))
    throw new InvalidInputError(`--status must be one of ${STATUSES.join(', ')}`);
  const runs = await (await journal()).list({
    limit,
    ...(flags.pipeline ? { pipeline: flags.pipeline } : {}),
    ...(flags.status ? { status: flags.status as RunStatus } : {}),
  });
  if (flags.json) {
    out(
      jsonText(
        runs.map((r) => ({
          runId: r.runId,
          pipeline: r.pipeline.name,
          file: r.pipeline.file,
          mode: r.mode,
          status: r.status,
          startedAt: r.startedAt,
          finishedAt: r.finishedAt,
          steps: Object.values(r.steps).map((s) => ({ id: s.id, status: s.status, done: s.done, failed: s.failed })),
          summary: r.summary,
          error: r.error,
        })),
      ),
    );
  } else if (!runs.length) out('No runs yet.\n');
  else for (const r of runs) out(`${formatRunRecord(r)}\n`);
}

/**
 * `b24flow runs show <run-id> [--json]`: the run, its steps and its writes (latest state per key) from the store.
 * JSON: `{ run: RunRecord, writes: WriteEntry[] }`.
 * @throws InvalidInputError when there is no such run
 */
export async function runRunShowCommand(runId: string, flags: { json?: boolean }): Promise<void> {
  const j = await journal();
  const run = await j.get(runId);
  if (!run) throw new InvalidInputError(`unknown run "${runId}"`);
  const writes = [...(await j.loadWrites(runId)).values()];
  if (flags.json) {
    const { owner: _owner, ...shown } = run;
    out(jsonText({ run: shown, writes }));
    return;
  }
  out(formatRunShow(run, writes));
}

/** The text of `runs show`: header, one line per step, one line per write. */
export function formatRunShow(run: RunRecord, writes: WriteEntry[]): string {
  const lines = [
    `Run ${run.runId}: ${run.pipeline.name}${run.pipeline.file ? ` (${run.pipeline.file})` : ''}`,
    `  mode ${run.mode}, status ${run.status}, started ${run.startedAt}${run.finishedAt ? `, finished ${run.finishedAt}` : ''}`,
  ];
  if (run.planId) lines.push(`  plan ${run.planId}`);
  if (run.resumedFrom?.length) lines.push(`  resumed ${run.resumedFrom.length} time(s)`);
  if (run.error) lines.push(`  error: ${run.error}`);
  const steps = Object.values(run.steps);
  lines.push('', `Steps (${steps.length}):`);
  for (const s of steps) {
    const counts = [
      `${s.done} done`,
      ...(s.existing ? [`${s.existing} existing`] : []),
      ...(s.failed ? [`${s.failed} failed`] : []),
      ...(s.uncertain ? [`${s.uncertain} uncertain`] : []),
    ];
    lines.push(`  ${s.id.padEnd(24)} ${(s.method ?? '').padEnd(28)} ${s.status.padEnd(9)} ${counts.join(', ')}`);
    if (s.request) lines.push(`      sent: ${s.request}`);
    if (s.response) lines.push(`      got:  ${s.response}`);
    if (s.reason) lines.push(`      ${s.reason}`);
  }
  lines.push('', `Writes (${writes.length}):`);
  for (const w of writes) {
    const what = w.state === 'done' ? JSON.stringify(w.result ?? null) : w.state === 'failed' ? (w.error ?? '') : '';
    lines.push(`  ${w.key.padEnd(32)} ${w.state.padEnd(7)} ${what}`.trimEnd());
  }
  if (run.summary?.en.length) lines.push('', ...run.summary.en);
  return `${lines.join('\n')}\n`;
}
