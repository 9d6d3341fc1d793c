/**
 * `b24flow serve` as a real process: refuses invalid pipelines by name; with no configuration it runs on the embedded
 * sandbox, serves /healthz and /metrics, rejects forged online events with a log line, and exits 0 on SIGTERM.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { StoreScheduleSlots } from '../../src/store/schedules.js';
import { tempDir } from './helpers.js';
import { runCli, startServe } from './processes.js';

const t = tempDir('b24flow-serve-');
afterAll(() => t.cleanup());
const noPortal = {
  B24FLOW_DATA_DIR: join(t.dir, 'data'),
  BITRIX_WEBHOOK_URL: '',
  B24_CLIENT_ID: '',
  B24_CLIENT_SECRET: '',
  HTTP_API_TOKENS: '',
};

describe('b24flow serve', () => {
  it('refuses to start on an invalid pipeline and names it (exit 2)', async () => {
    const dir = join(t.dir, 'bad');
    cpSync(join(import.meta.dirname, 'fixtures', 'kill'), dir, { recursive: true });
    writeFileSync(
      join(dir, 'broken.yaml'),
      `name: broken
triggers:
  - schedule: { cron: "* * * * *" }
steps:
  - id: x
    method: crm.deal.nosuchmethod
`,
    );
    writeFileSync(
      join(dir, 'bad-cron.yaml'),
      'name: bad-cron\ntriggers:\n  - schedule: { cron: "99 * * * *" }\nsteps:\n  - id: me\n    method: user.current\n',
    );
    const r = await runCli(['serve', '--pipelines', dir, '--port', '0'], noPortal);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken\.yaml:6:\d+: .*crm\.deal\.nosuchmethod/);
    expect(r.stderr).toMatch(/bad-cron\.yaml:1:1: .*99/);
    expect(r.stderr).not.toMatch(/deal-to-lead\.yaml/);
  });

  it('runs on the embedded sandbox with no configuration: /healthz, /metrics, forged events rejected and logged, SIGTERM → exit 0', async () => {
    const dir = join(t.dir, 'ok');
    cpSync(join(import.meta.dirname, 'fixtures', 'kill'), dir, { recursive: true });
    const s = await startServe(['--pipelines', dir, '--sync-every', '0'], noPortal);
    try {
      const health = (await (await fetch(`${s.url}/healthz`)).json()) as Record<string, any>;
      expect(health).toMatchObject({ status: 'ok', pipelines: 1, events: ['ONCRMDEALADD'] });
      expect(health.offlineSync.processId).toMatch(/./);
      const forged = await fetch(`${s.url}/bitrix/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'event=ONCRMDEALADD&data[FIELDS][ID]=1&auth[member_id]=x&auth[application_token]=forged-token-value',
      });
      expect(forged.status).toBe(401);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      for (const m of [
        'b24flow_runs_total',
        'b24flow_run_failures_total',
        'b24flow_events_processed_total',
        'b24flow_dlq_entries',
        'b24flow_limiter_wait_seconds_total',
      ])
        expect(metrics).toContain(`# TYPE ${m}`);
      expect(metrics).toMatch(/b24flow_events_rejected_total\{reason="unknown-portal"\} 1/);
      expect(s.stderr()).toMatch(/embedded sandbox/);
    } finally {
      s.child.kill('SIGTERM');
    }
    const ex = await s.exited;
    expect(ex.code).toBe(0);
    expect(s.stderr()).toMatch(/online event rejected \(401 unknown-portal\)/);
    expect(s.stderr()).not.toContain('forged-token-value');
    expect(s.stderr()).toMatch(/serve: stopped/);
  }, 30_000);

  it('runs a cron pipeline from serve through the real runner: every run in the journal and the schedule log', async () => {
    const dir = join(t.dir, 'cron');
    const data = join(t.dir, 'cron-data');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'tick.yaml'),
      'name: tick\ntriggers:\n  - schedule: { cron: "* * * * * *", timezone: Europe/Berlin }\nsteps:\n  - id: me\n    method: user.current\n',
    );
    const env = { ...noPortal, B24FLOW_DATA_DIR: data };
    const s = await startServe(['--pipelines', dir], env);
    await new Promise((r) => setTimeout(r, 3200));
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    // the schedule log is in the store (SQLite in the data dir)
    const store = await openStore({ dataDir: data });
    const log = await new StoreScheduleSlots(store).readLog();
    await store.close();
    const finished = log.filter((l) => l.what === 'finished');
    expect(finished.length).toBeGreaterThanOrEqual(2);
    // one run per second, never two for the same second
    expect(new Set(finished.map((l) => l.scheduledFor)).size).toBe(finished.length);
    const runs = await runCli(['runs', '--json'], env);
    const listed = JSON.parse(runs.stdout) as { runId?: string; id?: string; pipeline: string; status: string }[];
    const ids = new Set(listed.filter((r) => r.pipeline === 'tick').map((r) => r.runId ?? r.id));
    for (const f of finished) expect(ids.has(f.runId)).toBe(true);
  }, 30_000);
});
