/**
 * Issue 12, item 3 — one limiter per portal across processes: 4 worker processes (tests/store/support/limiterWorker.ts,
 * each `connect()` like a b24flow command, 6 calls in flight) plus 2 concurrent loops of `b24flow call server.time --packs core,diagnostics`
 * CLI runs, all on one standard-plan sandbox portal (2 req/s drain, burst 50) whose clock runs 10× faster, sharing one
 * store (SQLite in one data dir; PostgreSQL too when B24FLOW_BENCH_DATABASE_URL or B24FLOW_TEST_DATABASE_URL is set).
 * Prints requests, 503s and 429s at the portal (`/sandbox/stats`), the aggregate rate against the plan's allowance
 * (burst + drain × time) and the store round trips per 1,000 requests. Runs dist/ for the CLI (`npm run build` first).
 *
 * `npm run bench -- scale-limiter` (B24FLOW_BENCH_CALLS per worker, default 80; B24FLOW_BENCH_CLI_RUNS per loop, 10).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startSandbox } from '../src/sandbox/index.js';
import { allowance, runWorker } from '../tests/store/support/limiterRun.js';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'b24flow.js');
const factor = 10;
const calls = Number(process.env.B24FLOW_BENCH_CALLS ?? 80);
const cliRuns = Number(process.env.B24FLOW_BENCH_CLI_RUNS ?? 10);
const plan = { drain: 2, burst: 50 };

/** One `b24flow call server.time`: resolves with its exit code. */
function cli(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, 'call', 'server.time', '--packs', 'core,diagnostics'], {
      env,
      stdio: 'ignore',
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
}

async function scenario(name: string, database?: string): Promise<void> {
  const sb = await startSandbox({ plan: 'standard', clockFactor: factor, quiet: true, size: 'small' });
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      BITRIX_WEBHOOK_URL: sb.webhookUrl,
      B24_CLIENT_ID: '',
      B24_CLIENT_SECRET: '',
      B24FLOW_DATA_DIR: mkdtempSync(join(tmpdir(), 'b24flow-bench-limiter-')),
      B24_PLAN: 'standard',
      B24_CLOCK_FACTOR: String(factor),
      START_AT: String(Date.now() + 5000),
    };
    if (database) env.B24FLOW_DATABASE_URL = database;
    else delete env.B24FLOW_DATABASE_URL;
    let cliOk = 0;
    let cliFailed = 0;
    const loop = async () => {
      await new Promise((r) => setTimeout(r, Number(env.START_AT) - Date.now()));
      for (let i = 0; i < cliRuns; i++) (await cli(env)) === 0 ? cliOk++ : cliFailed++;
    };
    const t0 = Date.now();
    const [reports] = await Promise.all([Promise.all([0, 1, 2, 3].map(() => runWorker(env, calls))), loop(), loop()]);
    const stats = await sb.admin.stats();
    const start = Math.min(...reports.map((r) => r.t0));
    const end = Math.max(...reports.map((r) => r.t1));
    const portalSeconds = ((end - start) / 1000) * factor;
    const workerRequests = reports.reduce((s, r) => s + r.requests, 0);
    const takes = reports.reduce((s, r) => s + r.lease.takes, 0);
    const expired = reports.reduce((s, r) => s + r.lease.expired, 0);
    // the portal's own count (every request of the workers and the CLI runs, 503s included)
    const atPortal = stats.requests;
    console.log(
      `${name}: 4 workers × ${calls} calls + 2 × ${cliRuns} CLI runs (${cliOk} ok, ${cliFailed} failed) in ` +
        `${((Date.now() - t0) / 1000).toFixed(1)} s real, ${portalSeconds.toFixed(1)} portal s of worker traffic`,
    );
    console.log(
      `  requests at the portal ${atPortal} (workers ${workerRequests}), 503: ${stats.status['503'] ?? 0}, ` +
        `429: ${stats.status['429'] ?? 0}`,
    );
    console.log(
      `  aggregate rate ${(atPortal / portalSeconds).toFixed(2)} req/portal s; ` +
        `${((atPortal / allowance(plan, portalSeconds)) * 100).toFixed(1)} % of the plan's allowance ` +
        `(burst ${plan.burst} + ${plan.drain}/s × ${portalSeconds.toFixed(1)} s)`,
    );
    console.log(
      `  store round trips (worker leases): ${takes}, ${Math.round((takes / workerRequests) * 1000)} per 1,000 requests; ` +
        `${expired} leased slots expired unused`,
    );
  } finally {
    await sb.close();
  }
}

await scenario('sqlite');
const admin = process.env.B24FLOW_BENCH_DATABASE_URL || process.env.B24FLOW_TEST_DATABASE_URL;
if (admin) {
  const dbName = `b24flow_bench_${Date.now()}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${dbName}`);
  await c.end();
  const u = new URL(admin);
  u.pathname = `/${dbName}`;
  try {
    await scenario('postgres', u.toString());
  } finally {
    const d = new pg.Client({ connectionString: admin });
    await d.connect();
    await d.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await d.end();
  }
} else console.log('postgres: skipped (set B24FLOW_BENCH_DATABASE_URL or B24FLOW_TEST_DATABASE_URL)');
