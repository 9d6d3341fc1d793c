/**
 * `serve` on several processes (issue 12): real `b24flow serve` children.
 * - SQLite: one serve per store — a second one refuses (exit 2) naming the first one's pid and host; after the
 *   first is SIGKILLed its successor starts; a lease held by a process of another host is waited out (expiry).
 * - PostgreSQL (skipped without B24FLOW_TEST_DATABASE_URL), each process with its own data directory as on 3
 *   machines: a seconds-level schedule on 3 serve processes fires once per slot; 3 serve processes process N offline
 *   events exactly once while one of them is SIGKILLed midway.
 */
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { StoreScheduleSlots } from '../../src/store/schedules.js';
import { freshDatabase, postgresUrl } from '../support/postgres.js';
import { tempDir } from './helpers.js';
import { childEnv, runCli, type ServeProcess, startServe } from './processes.js';
import { createDeals, leadOrigins, startSandboxApp } from './sandboxApp.js';

const t = tempDir('b24flow-scale-');
afterAll(() => t.cleanup());
const noPortal = {
  BITRIX_WEBHOOK_URL: '',
  B24_CLIENT_ID: '',
  B24_CLIENT_SECRET: '',
  HTTP_API_TOKENS: '',
  B24FLOW_DATABASE_URL: '',
};

async function stopAll(list: ServeProcess[], signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  for (const s of list) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill(signal);
  await Promise.all(list.map((s) => s.exited));
}

describe('serve on one SQLite store', () => {
  it('a second serve refuses naming the first (exit 2); after a SIGKILL the next one starts; a foreign lease is waited out', async () => {
    const dir = join(t.dir, 'lease');
    cpSync(join(import.meta.dirname, 'fixtures', 'kill'), join(dir, 'pipelines'), { recursive: true });
    const env = { ...noPortal, B24FLOW_DATA_DIR: join(dir, 'data'), B24FLOW_LEASE_MS: '2000' };
    const args = ['--pipelines', join(dir, 'pipelines'), '--sync-every', '0'];
    const first = await startServe(args, env);
    try {
      const second = await runCli(['serve', ...args, '--port', '0'], env);
      expect(second.code).toBe(2);
      expect(second.stderr).toContain(`another b24flow serve (pid ${first.child.pid} on `);
      expect(second.stderr).toMatch(/one serve per SQLite store.*B24FLOW_DATABASE_URL/s);
    } finally {
      first.child.kill('SIGKILL');
    }
    expect((await first.exited).signal).toBe('SIGKILL');
    // the holder is dead on this host: its successor starts at once, without waiting for the lease
    const next = await startServe(args, env);
    await stopAll([next]);
    expect((await next.exited).code, next.stderr()).toBe(0);

    // a holder on another machine (a shared file system) cannot be checked: its lease is waited out
    const store = await openStore({ dataDir: env.B24FLOW_DATA_DIR });
    await store.db.deleteFrom('leases').where('name', '=', 'serve').execute();
    await store.db
      .insertInto('leases')
      .values({
        name: 'serve',
        holder: JSON.stringify({ pid: 4242, host: 'elsewhere.example', tag: 't' }),
        until_ms: Date.now() + 2000,
      })
      .execute();
    await store.close();
    const refused = await runCli(['serve', ...args, '--port', '0'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('another b24flow serve (pid 4242 on elsewhere.example)');
    await new Promise((r) => setTimeout(r, 2100));
    const after = await startServe(args, env);
    await stopAll([after]);
    expect((await after.exited).code, after.stderr()).toBe(0);
    // four serve starts: about 6 s alone, far more on a loaded 2-core CI machine
  }, 180_000);
});

describe.skipIf(!postgresUrl)('serve on several processes against one PostgreSQL', () => {
  it('a seconds-level schedule on 3 serve processes runs exactly once per slot', async () => {
    const db = await freshDatabase();
    const sb = await startSandboxApp(join(t.dir, 'cron-sb'));
    const procs: ServeProcess[] = [];
    try {
      const pipelines = join(t.dir, 'cron-pipelines');
      mkdirSync(pipelines, { recursive: true });
      writeFileSync(
        join(pipelines, 'tick.yaml'),
        `name: tick
packs: [core]
triggers:
  - schedule: { cron: "*/2 * * * * *", approve: [write] }
steps:
  - id: lead
    method: crm.lead.add
    params:
      fields: { TITLE: "tick", ORIGIN_ID: "tick" }
`,
      );
      const before = (await leadOrigins(sb.hook)).filter((o) => o === 'tick').length;
      const from = Date.now();
      for (let i = 0; i < 3; i++) {
        procs.push(
          await startServe(['--pipelines', pipelines, '--no-offline', '--workers', '2'], {
            ...noPortal,
            BITRIX_WEBHOOK_URL: sb.handle.webhookUrl,
            B24_PLAN: 'enterprise',
            B24_CLOCK_FACTOR: '1000',
            B24FLOW_DATA_DIR: join(t.dir, `cron-data-${i}`),
            B24FLOW_DATABASE_URL: db.url,
            B24FLOW_LEASE_MS: '3000',
          }),
        );
      }
      await new Promise((r) => setTimeout(r, 12_000));
      await stopAll(procs);
      for (const p of procs) expect((await p.exited).code).toBe(0);
      const store = await openStore({ dataDir: t.dir, url: db.url });
      try {
        const slots = await store.db
          .selectFrom('schedule_slots')
          .selectAll()
          .where('schedule_id', '=', 'tick#0')
          .execute();
        const log = await new StoreScheduleSlots(store).readLog({ pipeline: 'tick' });
        const started = log.filter((l) => l.what === 'started').map((l) => l.scheduledFor);
        const finished = log.filter((l) => l.what === 'finished').map((l) => l.scheduledFor);
        // about 6 slots in 12 s, every one claimed once (the primary key), started once and finished once
        expect(slots.length).toBeGreaterThanOrEqual(4);
        expect(slots.every((s) => s.slot_ms >= from - 2000 && s.slot_ms % 2000 === 0)).toBe(true);
        expect(new Set(started).size).toBe(started.length);
        expect(started.sort()).toEqual(slots.map((s) => new Date(s.slot_ms).toISOString()).sort());
        expect(finished.sort()).toEqual(started);
        // more than one process took slots (they all run the scheduler)
        expect(new Set(slots.map((s) => s.claimed_by)).size).toBeGreaterThan(1);
        // and the pipeline wrote once per slot
        const leads = (await leadOrigins(sb.hook)).filter((o) => o === 'tick').length - before;
        expect(leads).toBe(slots.length);
      } finally {
        await store.close();
      }
    } finally {
      await stopAll(procs, 'SIGKILL');
      await sb.close();
      await db.drop();
    }
  }, 90_000);

  it('3 serve processes process N offline events exactly once while one is SIGKILLed midway', async () => {
    const N = Number(process.env.TRIGGERS_SCALE_EVENTS ?? 400);
    const db = await freshDatabase();
    const dataDir = join(t.dir, 'offline-data');
    const pipelines = join(t.dir, 'offline-pipelines');
    cpSync(join(import.meta.dirname, 'fixtures', 'kill'), pipelines, { recursive: true });
    // the tokens in the database, sealed with the key every process gets (as on three machines)
    const key = randomBytes(32).toString('base64');
    const sb = await startSandboxApp(dataDir, {}, { url: db.url, key });
    const procs: ServeProcess[] = [];
    try {
      const env = childEnv(dataDir, sb.handle.oauthApp, {
        ...sb.env,
        B24FLOW_DATABASE_URL: db.url,
        B24FLOW_STORE_KEY: key,
        B24FLOW_LEASE_MS: '3000',
        B24_TOKEN_FILE: join(dataDir, 'tokens.json'),
      });
      // each process has its own data directory, as on three machines: what they share is the database
      const envOf = (i: number) => ({ ...env, B24FLOW_DATA_DIR: join(t.dir, `offline-data-${i}`) });
      const bind = await runCli(['events', 'bind', '--pipelines', pipelines], env);
      expect(bind.code).toBe(0);
      const baseline = (await sb.hook.call<unknown[]>('crm.lead.list', { select: ['ID'], start: 0 })).total ?? 0;
      const processed = async () =>
        ((await sb.hook.call<unknown[]>('crm.lead.list', { select: ['ID'], start: 0 })).total ?? 0) - baseline;
      const deals = await createDeals(sb.hook, N);
      const args = ['--pipelines', pipelines, '--sync-every', '0.3', '--parallel', '8', '--workers', '3'];
      for (let i = 0; i < 3; i++) procs.push(await startServe(args, envOf(i)));
      for (let i = 0; i < 600 && (await processed()) < N / 3; i++) await new Promise((r) => setTimeout(r, 25));
      procs[0]!.child.kill('SIGKILL');
      expect((await procs[0]!.exited).signal).toBe('SIGKILL');
      expect(await processed()).toBeLessThan(N);
      for (let i = 0; i < 1200; i++) {
        if ((await processed()) >= N) {
          const left = await sb.app.call<unknown[]>('event.offline.list', { start: 0 });
          if (!left.total) break;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      await stopAll(procs);
      for (const p of procs.slice(1)) expect((await p.exited).code).toBe(0);
      const origins = (await leadOrigins(sb.hook)).filter((o) => o.startsWith('deal-'));
      const counts = new Map<string, number>();
      for (const o of origins) counts.set(o, (counts.get(o) ?? 0) + 1);
      expect(deals.filter((id) => !counts.has(`deal-${id}`))).toEqual([]);
      expect([...counts].filter(([, c]) => c > 1)).toEqual([]);
      const left = await sb.app.call<unknown[]>('event.offline.list', { start: 0 });
      expect(left.total ?? 0).toBe(0);
      for (let i = 0; i < 3; i++) {
        const dlq = await runCli(['dlq', 'list', '--json'], envOf(i));
        expect(JSON.parse(dlq.stdout)).toMatchObject({ size: 0 });
      }
    } finally {
      await stopAll(procs, 'SIGKILL');
      await sb.close();
      await db.drop();
    }
  }, 180_000);
});
