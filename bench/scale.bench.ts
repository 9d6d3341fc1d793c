/**
 * `npm run bench -- scale` (issue 12): `serve` on several processes. Prints figures, asserts nothing.
 * 1. Portals in parallel: offline events of 1 sandbox portal drained by 1 `serve`, then of 8 portals drained at once
 *    (one `serve` per portal: a `serve` process serves one portal) → throughput ratio.
 * 2. 2,000 offline events on one portal, 3 `serve` processes on one PostgreSQL, each SIGKILLed and restarted at
 *    random 3 times → runs per event (leads per deal: exactly once?), lost events, DLQ size.
 * 3. A seconds-level schedule (`*\/2 * * * * *`, every 2 s) on 3 `serve` processes for 60 s → runs per slot.
 * Parts 2 and 3 need PostgreSQL (`B24FLOW_DATABASE_URL` or `B24FLOW_TEST_DATABASE_URL`: a fresh database is created
 * on that server and dropped); without it they are skipped with a line saying so. Sizes: SCALE_BENCH_EVENTS (2000),
 * SCALE_BENCH_PORTAL_EVENTS (1000 per portal), SCALE_BENCH_CRON_S (60); SCALE_BENCH_PARTS=portals,kills,cron picks parts.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import { StoreScheduleSlots } from '../src/store/schedules.js';
import { childEnv, runCli, type ServeProcess, startServe } from '../tests/triggers/processes.js';
import { createDeals, leadOrigins, type SandboxApp, startSandboxApp } from '../tests/triggers/sandboxApp.js';

const EVENTS = Number(process.env.SCALE_BENCH_EVENTS ?? 2000);
const PORTAL_EVENTS = Number(process.env.SCALE_BENCH_PORTAL_EVENTS ?? 1000);
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
  // on PostgreSQL the tokens live in the shared database, sealed with a key every process is given
  const url = extra.B24FLOW_DATABASE_URL || undefined;
  const storeKey = randomBytes(32).toString('base64');
  const sb = await startSandboxApp(join(dir, 'data'), {}, url ? { url, storeKey } : {});
  const env = childEnv(join(dir, 'data'), sb.handle.oauthApp, {
    ...sb.env,
    ...extra,
    ...(url ? { B24FLOW_STORE_KEY: storeKey } : {}),
  });
  const bind = await runCli(['events', 'bind', '--pipelines', join(dir, 'pipelines')], env);
  if (bind.code !== 0) throw new Error(`events bind failed: ${bind.stderr}`);
  const baseline = await leadsOf(sb);
  const deals = await createDeals(sb.hook, n);
  return { dir, sb, env, baseline, deals, pipelines: join(dir, 'pipelines') };
}

/** Drains the portals at once (one serve each); events per second over all of them. */
async function drainPortals(count: number, n: number): Promise<number> {
  const ps = [];
  for (let i = 0; i < count; i++) ps.push(await portal(`p${count}-${i}`, n, { B24FLOW_DATABASE_URL: '' }));
  const t0 = performance.now();
  const procs = await Promise.all(
    ps.map((p) => startServe(['--pipelines', p.pipelines, '--sync-every', '0.2', '--parallel', '16'], p.env, 60_000)),
  );
  for (;;) {
    const left = await Promise.all(ps.map((p) => queueLeft(p.sb)));
    if (left.every((x) => x === 0)) break;
    await sleep(100);
  }
  const secs = (performance.now() - t0) / 1000;
  await stopAll(procs);
  for (const p of ps) await p.sb.close();
  return (count * n) / secs;
}

async function partPortals(): Promise<void> {
  const one = await drainPortals(1, PORTAL_EVENTS);
  console.log(`1 portal, 1 serve: ${PORTAL_EVENTS} events → ${one.toFixed(0)} events/s`);
  const eight = await drainPortals(8, PORTAL_EVENTS);
  console.log(
    `8 portals, 8 serve (one per portal; a serve process serves one portal): ${8 * PORTAL_EVENTS} events → ${eight.toFixed(0)} events/s — ${(eight / one).toFixed(1)}× one portal (target ≥ 6× with 4 processes)`,
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
