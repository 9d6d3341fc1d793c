/**
 * One OAuth application installed on two sandbox portals (each with its own OAuth server and member_id), served by
 * real `b24flow serve` processes (issue 12): one serve on SQLite, and two serve on one PostgreSQL (skipped without
 * B24FLOW_TEST_DATABASE_URL). Deals created on both portals: every deal's pipeline runs exactly once, on its own
 * portal (the two sandboxes have the same seed, so their deals have the same ids: a key shared across portals would
 * drop or cross events).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase, postgresUrl } from '../support/postgres.js';
import { tempDir, writeDealLeadPipeline } from './helpers.js';
import { childEnv, runCli, type ServeProcess, startServe } from './processes.js';
import { createDeals, leadOrigins, type SandboxApp, startSandboxApp } from './sandboxApp.js';

const t = tempDir('b24flow-portals-');
afterAll(() => t.cleanup());

async function stopAll(list: ServeProcess[], signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  for (const s of list) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill(signal);
  await Promise.all(list.map((s) => s.exited));
}

/** Leads made by the pipeline on a portal, by ORIGIN_ID. */
async function leadCounts(sb: SandboxApp): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const o of await leadOrigins(sb.hook)) if (o.startsWith('deal-')) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts;
}

/** Binds the offline events of the pipelines on each portal (`events bind` with `B24_MEMBER_ID` picking it). */
async function bindAll(portals: SandboxApp[], pipelines: string, env: NodeJS.ProcessEnv): Promise<void> {
  for (const sb of portals) {
    const bind = await runCli(['events', 'bind', '--pipelines', pipelines], {
      ...env,
      B24_MEMBER_ID: sb.handle.oauthApp.memberId,
    });
    expect(bind.code, bind.stderr).toBe(0);
  }
}

/** Waits until every portal has `n` leads of the pipeline and an empty offline queue (at most `ms`). */
async function settle(portals: SandboxApp[], n: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const done = await Promise.all(
      portals.map(async (sb) => {
        const left = await sb.app.call<unknown[]>('event.offline.list', { start: 0 });
        return (await leadCounts(sb)).size >= n && !left.total;
      }),
    );
    if (done.every(Boolean)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Each portal has exactly one lead per deal of its own, and nothing left in its offline queue. */
async function expectExactlyOnce(portals: SandboxApp[], deals: string[][]): Promise<void> {
  for (const [i, sb] of portals.entries()) {
    const counts = await leadCounts(sb);
    expect(
      deals[i]!.filter((id) => !counts.has(`deal-${id}`)),
      `portal ${i}: deals without their lead`,
    ).toEqual([]);
    expect(
      [...counts].filter(([, c]) => c > 1),
      `portal ${i}: deals with more than one lead`,
    ).toEqual([]);
    expect(counts.size).toBe(deals[i]!.length);
    const left = await sb.app.call<unknown[]>('event.offline.list', { start: 0 });
    expect(left.total ?? 0).toBe(0);
  }
}

describe('one OAuth application on two portals', () => {
  it('one serve on SQLite serves both portals, one installed while it runs: each deal runs once, on its own portal', async () => {
    const N = 30;
    const dataDir = join(t.dir, 'sqlite-data');
    const pipelines = writeDealLeadPipeline(join(t.dir, 'sqlite-pipelines'));
    const a = await startSandboxApp(dataDir);
    let b: SandboxApp | undefined;
    const procs: ServeProcess[] = [];
    try {
      const env = childEnv(dataDir, a.handle.oauthApp, a.env);
      await bindAll([a], pipelines, env);
      procs.push(await startServe(['--pipelines', pipelines, '--sync-every', '0.3', '--parallel', '8'], env));
      const dealsA = await createDeals(a.hook, N, (j) => `Portal a deal ${j}`);
      await settle([a], N, 30_000);
      // the app is installed on portal b while serve runs (its tokens land in the store): serve picks it up
      b = await startSandboxApp(dataDir, {}, { app: a.handle.oauthApp });
      expect(b.handle.oauthApp.memberId).not.toBe(a.handle.oauthApp.memberId);
      await bindAll([b], pipelines, env);
      const until = Date.now() + 20_000;
      while (!procs[0]!.stderr().includes(`serving portal ${b.handle.oauthApp.memberId}`) && Date.now() < until)
        await new Promise((r) => setTimeout(r, 100));
      // portal b's deals have the same ids as a's (same seed), seen after a's are recorded
      const dealsB = await createDeals(b.hook, N, (j) => `Portal b deal ${j}`);
      expect(dealsB).toEqual(dealsA);
      await settle([a, b], N, 30_000);
      await stopAll(procs);
      expect((await procs[0]!.exited).code, procs[0]!.stderr()).toBe(0);
      expect(procs[0]!.stderr()).toContain(`serving portal ${b.handle.oauthApp.memberId}`);
      await expectExactlyOnce([a, b], [dealsA, dealsB]);
    } finally {
      await stopAll(procs, 'SIGKILL');
      await a.close();
      await b?.close();
    }
  }, 120_000);

  it.skipIf(!postgresUrl)(
    'two serve processes on one PostgreSQL share both portals: each deal runs once, on its own portal',
    async () => {
      const N = 40;
      const db = await freshDatabase();
      const key = randomBytes(32).toString('base64');
      const dataDir = join(t.dir, 'pg-data');
      const pipelines = writeDealLeadPipeline(join(t.dir, 'pg-pipelines'));
      const a = await startSandboxApp(dataDir, {}, { url: db.url, key });
      const b = await startSandboxApp(dataDir, {}, { app: a.handle.oauthApp, url: db.url, key });
      const procs: ServeProcess[] = [];
      try {
        const env = childEnv(dataDir, a.handle.oauthApp, {
          ...a.env,
          B24FLOW_DATABASE_URL: db.url,
          B24FLOW_STORE_KEY: key,
          B24FLOW_LEASE_MS: '3000',
        });
        await bindAll([a, b], pipelines, env);
        const deals = await Promise.all([a, b].map((sb) => createDeals(sb.hook, N)));
        const args = ['--pipelines', pipelines, '--sync-every', '0.3', '--parallel', '8', '--workers', '2'];
        // each process with its own data directory, as on two machines: what they share is the database (and key)
        for (let i = 0; i < 2; i++)
          procs.push(await startServe(args, { ...env, B24FLOW_DATA_DIR: join(t.dir, `pg-data-${i}`) }));
        await settle([a, b], N, 90_000);
        await stopAll(procs);
        for (const p of procs) expect((await p.exited).code, p.stderr()).toBe(0);
        await expectExactlyOnce([a, b], deals);
        const dlq = await runCli(['dlq', 'list', '--json'], env);
        expect(JSON.parse(dlq.stdout)).toMatchObject({ size: 0 });
      } finally {
        await stopAll(procs, 'SIGKILL');
        await a.close();
        await b.close();
        await db.drop();
      }
    },
    150_000,
  );
});
