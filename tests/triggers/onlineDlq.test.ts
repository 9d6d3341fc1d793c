/**
 * End to end, with a real `serve` process and the sandbox portal posting online events to it: every online event
 * whose pipeline is refused (a step with `confirm: true`, which no unattended trigger can pre-approve) ends in the
 * dead-letter queue with its reason, as
 * `b24flow dlq list` shows — none is lost, though the portal never sends an online event twice.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { childEnv, runCli, startServe } from './processes.js';
import { createDeals, type SandboxApp, startSandboxApp } from './sandboxApp.js';

let sb: SandboxApp;
const t = tempDir('b24flow-ondlq-');
const dataDir = join(t.dir, 'data');
beforeAll(async () => {
  sb = await startSandboxApp(dataDir);
});
afterAll(async () => {
  await sb?.close();
  t.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('online events whose pipeline is refused', () => {
  it('all reach the dead-letter queue with their reason (real serve, sandbox portal, real CLI)', async () => {
    const pipelines = join(t.dir, 'p');
    cpSync(join(import.meta.dirname, 'fixtures', 'kill'), pipelines, { recursive: true });
    const file = join(pipelines, 'deal-to-lead.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace('    method: crm.lead.add', '    confirm: true\n    method: crm.lead.add'),
    );
    const env = childEnv(dataDir, sb.handle.oauthApp, sb.env);
    const s = await startServe(
      ['--pipelines', pipelines, '--no-offline', '--max-attempts', '2', '--backoff', '10'],
      env,
    );
    const N = 40;
    try {
      await sb.app.call('event.bind', { event: 'ONCRMDEALADD', handler: `${s.url}/bitrix/events` });
      const deals = await createDeals(sb.hook, N);
      expect(deals).toHaveLength(N);
      for (let i = 0; i < 300; i++) {
        const m = await (await fetch(`${s.url}/metrics`)).text();
        if (Number(/^b24flow_dlq_entries (\d+)$/m.exec(m)?.[1] ?? 0) >= N) break;
        await sleep(50);
      }
    } finally {
      s.child.kill('SIGTERM');
    }
    expect((await s.exited).code).toBe(0);
    const list = await runCli(['dlq', 'list', '--json'], env);
    expect(list.code).toBe(0);
    const dl = JSON.parse(list.stdout) as {
      size: number;
      items: { objectId: string; source: string; attempts: number; pipelines: string[]; error: string }[];
    };
    expect(dl.size).toBe(N);
    for (const d of dl.items) {
      expect(d).toMatchObject({ source: 'online', attempts: 2, pipelines: ['deal-to-lead'] });
      expect(d.error).toMatch(/^deal-to-lead: .*requires a person to confirm/);
    }
    const text = await runCli(['dlq', 'list'], env);
    expect(text.stdout).toMatch(new RegExp(`${N} dead letters\\n$`));
  }, 60_000);
});
