/**
 * A saved event pipeline reaches a running `serve` of an OAuth application without a restart (issue 16 item 3): serve
 * starts with no event pipeline (no offline worker), `b24flow pipelines save` stores one on ONCRMDEALADD, serve picks
 * it up, binds the event on the portal it serves (offline, with its auth_connector), starts the offline worker, and
 * each deal created afterwards runs the pipeline once. And a serve that starts with an event pipeline in its folder
 * binds that event itself (no `b24flow events bind`), once however often it restarts. Real processes; the sandbox
 * portal in the test process.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, waitFor, writeDealLeadPipeline } from './helpers.js';
import { childEnv, runCli, startServe } from './processes.js';
import { createDeals, leadOrigins, type SandboxApp, startSandboxApp } from './sandboxApp.js';

let sb: SandboxApp;
const t = tempDir('b24flow-saved-events-');
const dataDir = join(t.dir, 'data');

beforeAll(async () => {
  sb = await startSandboxApp(dataDir);
});
afterAll(async () => {
  await sb?.close();
  t.cleanup();
});

describe('a saved event pipeline picked up by a running serve', () => {
  it('binds its event, starts offline delivery and runs once per deal', async () => {
    const env = childEnv(dataDir, sb.handle.oauthApp, { ...sb.env, B24FLOW_SAVED_POLL_MS: '200' });
    const empty = join(t.dir, 'empty');
    mkdirSync(empty, { recursive: true });
    const serve = await startServe(['--pipelines', empty, '--sync-every', '0.2'], env);
    try {
      const health = async () => (await (await fetch(`${serve.url}/healthz`)).json()) as Record<string, unknown>;
      expect(await health()).toMatchObject({ events: [], offlineSync: null, pipelines: 0 });
      const before = (await sb.app.call<unknown[]>('event.get', {})).result.length;

      const saved = await runCli(
        ['pipelines', 'save', join(writeDealLeadPipeline(join(t.dir, 'src')), 'deal-lead.yaml')],
        env,
      );
      expect(saved.code, saved.stderr).toBe(0);
      await waitFor(() => /ONCRMDEALADD \(offline\) bound/.test(serve.stderr()), 20_000, 'the event bound');
      const bound = (await sb.app.call<{ event: string; offline?: number }[]>('event.get', {})).result;
      expect(bound.length).toBe(before + 1);
      expect(bound.some((b) => b.event === 'ONCRMDEALADD' && Number(b.offline) === 1)).toBe(true);
      await waitFor(async () => (await health()).offlineSync !== null, 10_000, 'the offline worker');
      expect(await health()).toMatchObject({ events: ['ONCRMDEALADD'], pipelines: 1 });

      const deals = await createDeals(sb.hook, 3);
      const want = deals.map((d) => `deal-${d}`).sort();
      const mine = async () => (await leadOrigins(sb.hook)).filter((x) => x.startsWith('deal-')).sort();
      await waitFor(async () => (await mine()).length >= want.length, 30_000, 'a lead per deal');
      // one more pass finds nothing new: each deal ran once
      await new Promise((r) => setTimeout(r, 1000));
      expect(await mine()).toEqual(want);
    } finally {
      serve.child.kill('SIGTERM');
      await serve.exited;
    }
  }, 90_000);

  it('binds at start the events of its folder pipelines; a restart finds them bound and binds nothing twice', async () => {
    const dir = join(t.dir, 'at-start');
    const own = await startSandboxApp(join(dir, 'data'));
    const env = childEnv(join(dir, 'data'), own.handle.oauthApp, own.env);
    const folder = writeDealLeadPipeline(join(dir, 'pipelines'));
    const offlineBindings = async () =>
      (await own.app.call<{ event: string; offline?: number }[]>('event.get', {})).result.filter(
        (b) => Number(b.offline) === 1,
      );
    try {
      expect(await offlineBindings()).toEqual([]);
      for (const round of [1, 2]) {
        const serve = await startServe(['--pipelines', folder, '--sync-every', '0.2'], env);
        try {
          const status = round === 1 ? 'bound' : 'already bound';
          await waitFor(
            () => new RegExp(`ONCRMDEALADD \\(offline\\) ${status}`).test(serve.stderr()),
            20_000,
            `the event ${status}`,
          );
          expect((await offlineBindings()).map((b) => b.event)).toEqual(['ONCRMDEALADD']);
          const deals = await createDeals(own.hook, 2);
          const want = deals.map((d) => `deal-${d}`);
          await waitFor(
            async () => {
              const origins = await leadOrigins(own.hook);
              return want.every((w) => origins.includes(w));
            },
            30_000,
            `a lead per deal, round ${round}`,
          );
        } finally {
          serve.child.kill('SIGTERM');
          await serve.exited;
        }
      }
    } finally {
      await own.close();
    }
  }, 120_000);
});
