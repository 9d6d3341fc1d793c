/**
 * Online and offline paths together, with real `serve` processes and the sandbox portal:
 * - a change delivered online and queued offline runs the pipeline once; ONOFFLINEEVENT wakes the sync;
 * - the loop guard: a pipeline that writes to the object whose change triggered it does not trigger itself again
 *   (auth_connector keeps its writes out of the offline queue; its own changes are recognised online).
 */
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { childEnv, runCli, startServe } from './processes.js';
import { createDeals, leadOrigins, type SandboxApp, startSandboxApp } from './sandboxApp.js';

let sb: SandboxApp;
const t = tempDir('b24flow-onoff-');
beforeAll(async () => {
  sb = await startSandboxApp(join(t.dir, 'data'));
});
afterAll(async () => {
  await sb?.close();
  t.cleanup();
});

const metric = (text: string, re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('online + offline', () => {
  it('runs a change seen online and offline once; ONOFFLINEEVENT wakes the sync', async () => {
    const pipelines = join(t.dir, 'p1');
    const dataDir = join(t.dir, 'data');
    cpSync(join(import.meta.dirname, 'fixtures', 'kill'), pipelines, { recursive: true });
    const env = childEnv(dataDir, sb.handle.oauthApp, sb.env);
    // interval sync off: only ONOFFLINEEVENT (and the pass at start) drive the offline queue
    const s = await startServe(['--pipelines', pipelines, '--sync-every', '0'], env);
    try {
      const handler = `${s.url}/bitrix/events`;
      const bind = await runCli(
        ['events', 'bind', '--pipelines', pipelines, '--handler', handler, '--min-timeout', '0'],
        env,
      );
      expect(bind.stdout).toMatch(/ONOFFLINEEVENT \(online\): bound/);
      await sb.app.call('event.bind', { event: 'ONCRMDEALADD', handler });
      const deals = await createDeals(sb.hook, 30);
      let m = '';
      for (let i = 0; i < 200; i++) {
        m = await (await fetch(`${s.url}/metrics`)).text();
        const left = (await sb.app.call<unknown[]>('event.offline.list', { start: 0 })).total ?? 0;
        if (metric(m, /b24flow_runs_total\{[^}]*status="succeeded"\} (\d+)/) >= 30 && left === 0) break;
        await sleep(50);
      }
      await sleep(200);
      m = await (await fetch(`${s.url}/metrics`)).text();
      expect(metric(m, /b24flow_runs_total\{pipeline="deal-to-lead",trigger="event",status="succeeded"\} (\d+)/)).toBe(
        30,
      );
      expect(
        metric(m, /b24flow_events_processed_total\{source="online",result="offline-wakeup"\} (\d+)/),
      ).toBeGreaterThan(0);
      const online = metric(m, /b24flow_events_processed_total\{source="online",result="processed"\} (\d+)/);
      const offline = metric(m, /b24flow_events_processed_total\{source="offline",result="processed"\} (\d+)/);
      const dupes =
        metric(m, /b24flow_events_processed_total\{source="online",result="duplicate"\} (\d+)/) +
        metric(m, /b24flow_events_processed_total\{source="offline",result="duplicate"\} (\d+)/);
      expect(online + offline).toBe(30);
      expect(dupes).toBe(30); // every change arrived twice, the second copy was recognised
      expect((await sb.app.call<unknown[]>('event.offline.list', { start: 0 })).total ?? 0).toBe(0);
      const origins = (await leadOrigins(sb.hook)).filter((o) => o.startsWith('deal-'));
      expect(origins.sort()).toEqual(deals.map((d) => `deal-${d}`).sort());
    } finally {
      s.child.kill('SIGTERM');
      expect((await s.exited).code).toBe(0);
    }
  }, 60_000);

  it('loop guard: a pipeline writing to the deal that triggered it runs once per user change', async () => {
    const pipelines = join(t.dir, 'p2');
    const dataDir = join(t.dir, 'data2');
    cpSync(join(import.meta.dirname, 'fixtures', 'loop'), pipelines, { recursive: true });
    const sb2 = await startSandboxApp(dataDir);
    const env = childEnv(dataDir, sb2.handle.oauthApp, sb2.env);
    const s = await startServe(['--pipelines', pipelines, '--sync-every', '0.1'], env);
    try {
      const handler = `${s.url}/bitrix/events`;
      expect((await runCli(['events', 'bind', '--pipelines', pipelines], env)).code).toBe(0);
      await sb2.app.call('event.bind', { event: 'ONCRMDEALUPDATE', handler });
      const deals = await createDeals(sb2.hook, 5);
      for (const id of deals) await sb2.hook.call('crm.deal.update', { id, fields: { TITLE: `Changed ${id}` } });
      let m = '';
      for (let i = 0; i < 100; i++) {
        m = await (await fetch(`${s.url}/metrics`)).text();
        if (metric(m, /b24flow_runs_total\{[^}]*status="succeeded"\} (\d+)/) >= 5) break;
        await sleep(50);
      }
      await sleep(1500); // time for any echo of our own writes to come back
      m = await (await fetch(`${s.url}/metrics`)).text();
      expect(metric(m, /b24flow_runs_total\{pipeline="stamp-deal",trigger="event",status="succeeded"\} (\d+)/)).toBe(5);
      // 15 deliveries: each user change online + offline, and the online echo of each of our writes; only 5 ran.
      // An echo in the same second as the user's change shares its dedupe key (duplicate), later ones are
      // recognised as our own writes.
      const echoes =
        metric(m, /b24flow_events_processed_total\{source="online",result="own"\} (\d+)/) +
        metric(m, /b24flow_events_processed_total\{source="online",result="duplicate"\} (\d+)/) +
        metric(m, /b24flow_events_processed_total\{source="offline",result="duplicate"\} (\d+)/);
      expect(echoes).toBe(10);
      // our writes never reached the offline queue (auth_connector)
      expect((await sb2.app.call<unknown[]>('event.offline.list', { start: 0 })).total ?? 0).toBe(0);
      for (const id of deals) {
        const d = (await sb2.hook.call<Record<string, unknown>>('crm.deal.get', { id })).result;
        expect(d.COMMENTS).toBe('checked by b24flow');
      }
    } finally {
      s.child.kill('SIGTERM');
      expect((await s.exited).code).toBe(0);
      await sb2.close();
    }
  }, 60_000);

  it('with a webhook, events bind explains WRONG_AUTH_TYPE and how to set up an application', async () => {
    const pipelines = join(t.dir, 'p3');
    cpSync(join(import.meta.dirname, 'fixtures', 'kill'), pipelines, { recursive: true });
    const r = await runCli(['events', 'bind', '--pipelines', pipelines], {
      B24FLOW_DATA_DIR: join(t.dir, 'data3'),
      BITRIX_WEBHOOK_URL: sb.handle.webhookUrl,
      B24_CLIENT_ID: '',
      B24_CLIENT_SECRET: '',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/WRONG_AUTH_TYPE/);
    expect(r.stderr).toMatch(/B24_CLIENT_ID and B24_CLIENT_SECRET/);
    // the webhook's secret code never shows up
    const code = new URL(sb.handle.webhookUrl).pathname.split('/').filter(Boolean).at(-1)!;
    expect(r.stderr).not.toContain(code);
  });
});
