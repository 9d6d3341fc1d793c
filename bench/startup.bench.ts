/**
 * Start-up of the `b24flow` command as a whole process (what a person or an editor waits for): best and median of N
 * runs of `node -e 0`, `b24flow --version`, `b24flow check` of the six shipped pipelines with the result cache (after
 * one warm-up run fills it) and with `--no-cache`, and each one's ratio to `node -e 0`. Runs dist/ through bin/ with
 * plain Node, as an installed package does (build first: `npm run build`).
 *
 * `npm run bench -- startup` (B24FLOW_BENCH_RUNS, default 5).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const runs = Number(process.env.B24FLOW_BENCH_RUNS ?? 5);
const bin = join(root, 'bin', 'b24flow.js');
const six = readdirSync(join(root, 'pipelines'))
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => join(root, 'pipelines', f));
const env = {
  ...process.env,
  BITRIX_WEBHOOK_URL: '',
  B24_CLIENT_ID: '',
  B24_CLIENT_SECRET: '',
  B24FLOW_CACHE_DIR: mkdtempSync(join(tmpdir(), 'b24flow-bench-cache-')),
};

/** Wall time of one process run (ms). */
function once(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return performance.now() - t0;
}

function measure(args: string[]): { best: number; median: number } {
  once(args); // warm-up: fills the OS file cache, the V8 compile cache and (for check) the result cache
  const t = Array.from({ length: runs }, () => once(args)).sort((a, b) => a - b);
  return { best: t[0]!, median: t[Math.floor(t.length / 2)]! };
}

const base = measure(['-e', '0']);
const rows: [string, { best: number; median: number }][] = [
  ['node -e 0', base],
  ['b24flow --version', measure([bin, '--version'])],
  [`b24flow check (${six.length} pipelines, cached)`, measure([bin, 'check', ...six])],
  [`b24flow check (${six.length} pipelines, --no-cache)`, measure([bin, 'check', '--no-cache', ...six])],
];
console.log(`start-up, ${runs} runs after a warm-up (Node ${process.version})`);
for (const [name, m] of rows)
  console.log(
    `${name.padEnd(42)} best ${m.best.toFixed(0).padStart(4)} ms  median ${m.median.toFixed(0).padStart(4)} ms  ` +
      `= ${(m.best / base.best).toFixed(1)}× node -e 0 (best)`,
  );
