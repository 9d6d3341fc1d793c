/**
 * `npm run bench -- scale` (issue 12): `serve` on several processes. Prints figures, asserts nothing.
 * 1. Portals in parallel: offline events of 1 standard-plan sandbox portal drained by 1 `serve`, then of 8 such portals
 *    (one OAuth app installed on each) drained at once by 4 `serve` processes on one PostgreSQL, each serving every
 *    portal → events/s, the ratio, CPU use (serve processes, and this process with the sandboxes), 503/429 answers.
 *    Without PostgreSQL one `serve` on SQLite serves the 8 portals.
 * 2. 2,000 offline events on one portal, 3 `serve` processes on one PostgreSQL, each SIGKILLed and restarted at
 *    random 3 times → runs per event (leads per deal: exactly once?), lost events, DLQ size.
 * 3. A seconds-level schedule (`*\/2 * * * * *`, every 2 s) on 3 `serve` processes for 60 s → runs per slot.
 * Parts 2 and 3 need PostgreSQL (`B24FLOW_DATABASE_URL` or `B24FLOW_TEST_DATABASE_URL`: a fresh database is created
 * on that server and dropped); without it they are skipped with a line saying so. Sizes: SCALE_BENCH_EVENTS (2000),
 * SCALE_BENCH_PORTAL_EVENTS (300 per portal), SCALE_BENCH_PORTAL_CLOCK (10), SCALE_BENCH_CRON_S (60), SCALE_BENCH_PROCS (4 serve for the 8 portals); SCALE_BENCH_PARTS=portals,kills,cron picks parts.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import { StoreScheduleSlots } from '../src/store/schedules.js';
import { childEnv, runCli, type ServeProcess, startServe } from '../tests/triggers/processes.js';
import { createDeals, leadOrigins, type SandboxApp, startSandboxApp } from '../tests/triggers/sandboxApp.js';

const EVENTS = Number(process.env.SCALE_BENCH_EVENTS ?? 2000);
const PORTAL_EVENTS = Number(process.env.SCALE_BENCH_PORTAL_EVENTS ?? 300);
/** Speed-up of the standard-plan portals' clocks (and of the serve limiter's pacing): 2 req/s become 2×this. */
const PORTAL_CLOCK = Number(process.env.SCALE_BENCH_PORTAL_CLOCK ?? 10);
/**
 * `--parallel` (events in flight per portal) and `--workers` (run jobs per process) of the portals part's serve.
 * Workers cover the passes a process holds (8 portals on 4 processes: about 2 × 48 events in flight), so a pass's runs
 * run next to it and draw on that process's lease of the portal's bucket; with 16 workers most runs spill to other
 * processes and every process leases slots of every portal (measured 47.7 events/s instead of 69.3).
 */
const PARALLEL = process.env.SCALE_BENCH_PARALLEL ?? '48';
const WORKERS = process.env.SCALE_BENCH_WORKERS ?? '100';
const CRON_S = Number(process.env.SCALE_BENCH_CRON_S ?? 60);
const adminUrl = process.env.B24FLOW_DATABASE_URL || process.env.B24FLOW_TEST_DATABASE_URL || undefined;
const root = mkdtempSync(join(tmpdir(), 'b24flow-scalebench-'));
const fixture = join(import.meta.dirname, '..', 'tests', 'triggers', 'fixtures', 'kill');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// the serve children run dist/ (bin/b24flow.js): build it from the sources first
execFileSync('npm', ['run', '--silent', 'build'], { cwd: join(import.meta.dirname, '..'), stdio: 'inherit' });

/** A fresh database on the PostgreSQL server (the tests' helper, which reads B24FLOW_TEST_DATABASE_URL). */
async function freshDb(): Promise<{ url: string; drop(): Promise<void> }> {
  process.env.B24FLOW_TEST_DATABASE_URL = adminUrl;
  const { freshDatabase } = await import('../tests/support/postgres.js');
  return freshDatabase();
}

async function stopAll(list: ServeProcess[], signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  for (const s of list) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill(signal);
  await Promise.all(list.map((s) => s.exited));
}

async function leadsOf(sb: SandboxApp): Promise<number> {
  return (await sb.hook.call<unknown[]>('crm.lead.list', { select: ['ID'], start: 0 })).total ?? 0;
}

async function queueLeft(sb: SandboxApp): Promise<number> {
  return (await sb.app.call<unknown[]>('event.offline.list', { start: 0 })).total ?? 0;
}

/** One portal with N queued deal creations and the reacting pipeline bound; its serve environment. */
async function portal(name: string, n: number, extra: NodeJS.ProcessEnv = {}) {
  const dir = join(root, name);
  cpSync(fixture, join(dir, 'pipelines'), { recursive: true });
  // on PostgreSQL the tokens go in the database, sealed with the key every process gets
  const url = extra.B24FLOW_DATABASE_URL || undefined;
  const key = randomBytes(32).toString('base64');
  const sb = await startSandboxApp(join(dir, 'data'), {}, url ? { url, key } : {});
  const env = childEnv(join(dir, 'data'), sb.handle.oauthApp, {
    ...sb.env,
    ...(url ? { B24FLOW_STORE_KEY: key } : {}),
    ...extra,
  });
  const bind = await runCli(['events', 'bind', '--pipelines', join(dir, 'pipelines')], env);
  if (bind.code !== 0) throw new Error(`events bind failed: ${bind.stderr}`);
  const baseline = await leadsOf(sb);
  const deals = await createDeals(sb.hook, n);
  return { dir, sb, env, baseline, deals, pipelines: join(dir, 'pipelines') };
}

/** CPU seconds (user + system) of a process so far, from /proc (Linux); 0 when unreadable. */
function cpuSecondsOf(pid: number | undefined): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // fields 14 and 15 of stat (utime, stime), counted from the state field (3)
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of every `postgres` process on this machine (the database server the serve processes share). */
function postgresCpuSeconds(): number {
  let sum = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') sum += cpuSecondsOf(Number(pid));
    } catch {}
  }
  return sum;
}

/**
 * Drains `count` portals (one OAuth app installed on each, standard plan, the portal's clock and the clients' limiter
 * sped up by PORTAL_CLOCK) with `procs` multi-portal `serve` processes on one store (PostgreSQL with pg-boss when a
 * server is given, else SQLite with one process). Returns events/s over all portals, the CPU use of the serve
 * processes and of this process (the sandboxes), and the 503/429 answers the portals gave.
 */
async function drainPortals(count: number, procs: number, n: number) {
  const db = adminUrl ? await freshDb() : undefined;
  const key = randomBytes(32).toString('base64');
  const dir = join(root, `portals-${count}x${procs}`);
  const dataDir = join(dir, 'data');
  const pipelines = join(dir, 'pipelines');
  cpSync(fixture, pipelines, { recursive: true });
  const sbOpts = { plan: 'standard', operatingLimit: 480, clockFactor: PORTAL_CLOCK, size: 10 };
  const at = { ...(db ? { url: db.url } : {}), key };
  const sbs: SandboxApp[] = [];
  for (let i = 0; i < count; i++)
    sbs.push(await startSandboxApp(dataDir, sbOpts, { ...at, ...(sbs[0] ? { app: sbs[0].handle.oauthApp } : {}) }));
  const env = childEnv(dataDir, sbs[0]!.handle.oauthApp, {
    B24_PLAN: 'standard',
    B24_CLOCK_FACTOR: String(PORTAL_CLOCK),
    B24FLOW_STORE_KEY: key,
    B24FLOW_DATABASE_URL: db?.url ?? '',
    B24FLOW_LEASE_MS: '10000',
  });
  const list: ServeProcess[] = [];
  try {
    for (const sb of sbs) {
      const bind = await runCli(['events', 'bind', '--pipelines', pipelines], {
        ...env,
        B24_MEMBER_ID: sb.handle.oauthApp.memberId,
      });
      if (bind.code !== 0) throw new Error(`events bind failed: ${bind.stderr}`);
    }
    const baselines = await Promise.all(sbs.map((sb) => leadsOf(sb)));
    for (const sb of sbs) await createDeals(sb.hook, n);
    // the creations drew on the portals' buckets too: let them drain before the clock starts
    await sleep(30_000 / PORTAL_CLOCK + 200);
    const statsBefore = await Promise.all(sbs.map((sb) => sb.handle.admin.stats()));
    const args = ['--pipelines', pipelines, '--sync-every', '0.2', '--parallel', PARALLEL, '--workers', WORKERS];
    const cpu0 = process.cpuUsage();
    const pg0 = postgresCpuSeconds();
    const t0 = performance.now();
    list.push(
      ...(await Promise.all(
        Array.from({ length: procs }, (_, i) =>
          startServe(args, { ...env, B24FLOW_DATA_DIR: join(dir, `serve-${i}`) }, 60_000),
        ),
      )),
    );
    // progress is read through the webhook (its own bucket at the portal), the app's queue only at the end: polling
    // with the app's credentials would draw on the very budget the serve processes use
    // the steady rate is counted from the first processed event (the processes' start-up left out)
    let first: { at: number; done: number } | undefined;
    for (;;) {
      const leads = await Promise.all(sbs.map((sb) => leadsOf(sb)));
      const done = leads.reduce((a, x, i) => a + x - baselines[i]!, 0);
      if (!first && done > 0) first = { at: performance.now(), done };
      if (leads.every((x, i) => x - baselines[i]! >= n)) break;
      await sleep(250);
    }
    const end = performance.now();
    const secs = (end - t0) / 1000;
    const steady = first && end > first.at ? (count * n - first.done) / ((end - first.at) / 1000) : 0;
    for (let i = 0; i < 100; i++) {
      const left = await Promise.all(sbs.map((sb) => queueLeft(sb)));
      if (left.every((x) => x === 0)) break;
      await sleep(500);
    }
    const serveCpu = list.reduce((a, p) => a + cpuSecondsOf(p.child.pid), 0);
    const own = process.cpuUsage(cpu0);
    const pgCpu = postgresCpuSeconds() - pg0;
    const load = loadavg()[0]!;
    const statsAfter = await Promise.all(sbs.map((sb) => sb.handle.admin.stats()));
    let s503 = 0;
    let s429 = 0;
    for (const [i, st] of statsAfter.entries()) {
      s503 += (st.status['503'] ?? 0) - (statsBefore[i]!.status['503'] ?? 0);
      s429 += (st.status['429'] ?? 0) - (statsBefore[i]!.status['429'] ?? 0);
    }
    const leads = (await Promise.all(sbs.map((sb) => leadOrigins(sb.hook)))).map(
      (o) => o.filter((x) => x.startsWith('deal-')).length,
    );
    return {
      rate: (count * n) / secs,
      steady,
      secs,
      serveCores: serveCpu / secs,
      benchCores: (own.user + own.system) / 1e6 / secs,
      pgCores: pgCpu / secs,
      load,
      s503,
      s429,
      leads: leads.reduce((a, x) => a + x, 0),
      store: db ? 'PostgreSQL + pg-boss' : 'SQLite',
    };
  } finally {
    await stopAll(list);
    for (const sb of sbs) await sb.close();
    await db?.drop();
  }
}

async function partPortals(): Promise<void> {
  const show = (label: string, r: Awaited<ReturnType<typeof drainPortals>>, events: number) =>
    `${label} (${r.store}): ${events} events in ${r.secs.toFixed(1)} s with start-up → ${r.rate.toFixed(1)} events/s, ` +
    `${r.steady.toFixed(1)} events/s from the first processed event; ` +
    `CPU: serve ${r.serveCores.toFixed(2)} cores, sandboxes + bench ${r.benchCores.toFixed(2)}, postgres ${r.pgCores.toFixed(2)} (of ${cpus().length} cores; load average ${r.load.toFixed(1)}); ` +
    `503: ${r.s503}, 429: ${r.s429}; leads written ${r.leads}`;
  const one = await drainPortals(1, 1, PORTAL_EVENTS);
  console.log(show('1 portal, 1 serve', one, PORTAL_EVENTS));
  const procs = adminUrl ? Number(process.env.SCALE_BENCH_PROCS ?? 4) : 1;
  const eight = await drainPortals(8, procs, PORTAL_EVENTS);
  console.log(show(`8 portals, ${procs} serve (each serves every portal)`, eight, 8 * PORTAL_EVENTS));
  console.log(
    `8 portals / 1 portal: ${(eight.steady / one.steady).toFixed(1)}× from the first processed event, ` +
      `${(eight.rate / one.rate).toFixed(1)}× with start-up (target ≥ 6×; standard plan per portal, clock ×${PORTAL_CLOCK}, --parallel ${PARALLEL}, --workers ${WORKERS})`,
  );
}

async function partKills(): Promise<void> {
  const db = await freshDb();
  const p = await portal('kills', EVENTS, { B24FLOW_DATABASE_URL: db.url, B24FLOW_LEASE_MS: '3000' });
  const args = ['--pipelines', p.pipelines, '--sync-every', '0.2', '--parallel', '16', '--workers', '4'];
  const t0 = performance.now();
  try {
    const kills = [3, 3, 3];
    const procs: (ServeProcess | undefined)[] = await Promise.all([0, 1, 2].map(() => startServe(args, p.env, 60_000)));
    // each process is SIGKILLed and restarted 3 times, at random moments, while events are processed
    while (kills.some((k) => k > 0) && (await leadsOf(p.sb)) - p.baseline < EVENTS * 0.9) {
      await sleep(300 + Math.random() * 1500);
      const i = Math.floor(Math.random() * 3);
      if (!kills[i]) continue;
      kills[i]!--;
      procs[i]!.child.kill('SIGKILL');
      await procs[i]!.exited;
      procs[i] = await startServe(args, p.env, 60_000);
    }
    const killed = 9 - kills.reduce((a, k) => a + k, 0);
    for (let i = 0; i < 3000 && (await queueLeft(p.sb)) > 0; i++) await sleep(100);
    // the last runs settle
    await sleep(1000);
    const secs = (performance.now() - t0) / 1000;
    await stopAll(procs.filter((x): x is ServeProcess => !!x));
    const origins = (await leadOrigins(p.sb.hook)).filter((o) => o.startsWith('deal-'));
    const counts = new Map<string, number>();
    for (const o of origins) counts.set(o, (counts.get(o) ?? 0) + 1);
    const lost = p.deals.filter((id) => !counts.has(`deal-${id}`)).length;
    const twice = [...counts.values()].filter((c) => c > 1).length;
    const dlq = await runCli(['dlq', 'list', '--json'], p.env);
    const size = (JSON.parse(dlq.stdout || '{}') as { size?: number }).size;
    console.log(
      `${EVENTS} offline events, 3 serve on PostgreSQL, ${killed} SIGKILLs + restarts: drained in ${secs.toFixed(1)} s; ` +
        `ran exactly once: ${EVENTS - lost - twice}, more than once: ${twice}, lost: ${lost}, left in the portal queue: ${await queueLeft(p.sb)}, DLQ size: ${size}`,
    );
  } finally {
    await p.sb.close();
    await db.drop();
  }
}

async function partCron(): Promise<void> {
  const db = await freshDb();
  const sb = await startSandboxApp(join(root, 'cron-sb'));
  const pipelines = join(root, 'cron-pipelines');
  mkdirSync(pipelines, { recursive: true });
  writeFileSync(
    join(pipelines, 'tick.yaml'),
    'name: tick\npacks: [core]\ntriggers:\n  - schedule: { cron: "*/2 * * * * *", approve: [write] }\nsteps:\n  - id: lead\n    method: crm.lead.add\n    params:\n      fields: { TITLE: tick, ORIGIN_ID: tick }\n',
  );
  const procs: ServeProcess[] = [];
  try {
    for (let i = 0; i < 3; i++)
      procs.push(
        await startServe(['--pipelines', pipelines, '--no-offline'], {
          BITRIX_WEBHOOK_URL: sb.handle.webhookUrl,
          B24_CLIENT_ID: '',
          B24_CLIENT_SECRET: '',
          HTTP_API_TOKENS: '',
          B24_PLAN: 'enterprise',
          B24_CLOCK_FACTOR: '1000',
          B24FLOW_DATA_DIR: join(root, `cron-data-${i}`),
          B24FLOW_DATABASE_URL: db.url,
        }),
      );
    await sleep(CRON_S * 1000);
    await stopAll(procs);
    const store = await openStore({ dataDir: root, url: db.url });
    const slots = await store.db.selectFrom('schedule_slots').selectAll().where('schedule_id', '=', 'tick#0').execute();
    const log = await new StoreScheduleSlots(store).readLog({ pipeline: 'tick' });
    await store.close();
    const started = new Map<string, number>();
    for (const l of log) if (l.what === 'started') started.set(l.scheduledFor, (started.get(l.scheduledFor) ?? 0) + 1);
    const leads = (await leadOrigins(sb.hook)).filter((o) => o === 'tick').length;
    const byProcess = new Map<string, number>();
    for (const s of slots) byProcess.set(s.claimed_by, (byProcess.get(s.claimed_by) ?? 0) + 1);
    console.log(
      `schedule */2 s on 3 serve for ${CRON_S} s: ${slots.length} slots (expected ~${Math.floor(CRON_S / 2)}), ` +
        `runs per slot: ${[...new Set(started.values())].join('/') || '-'} (slots with >1 run: ${[...started.values()].filter((c) => c > 1).length}), ` +
        `pipeline writes: ${leads}; slots claimed per process: ${[...byProcess.values()].join(', ')}`,
    );
  } finally {
    await stopAll(procs, 'SIGKILL');
    await sb.close();
    await db.drop();
  }
}

const only = (process.env.SCALE_BENCH_PARTS ?? 'portals,kills,cron').split(',');
try {
  if (only.includes('portals')) await partPortals();
  if (!adminUrl) {
    console.log(
      'PostgreSQL parts skipped: set B24FLOW_DATABASE_URL or B24FLOW_TEST_DATABASE_URL to a server where a database may be created',
    );
  } else {
    if (only.includes('kills')) await partKills();
    if (only.includes('cron')) await partCron();
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
