/**
 * Must-show of issue 6: a poison event (the pipeline throws) reaches the dead-letter queue after N attempts while
 * the rest flow on; after the fix, `b24flow dlq replay` processes it. Real `serve` and `dlq` processes, the sandbox
 * portal in the test process.
 */
import { copyFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { childEnv, runCli, startServe } from './processes.js';
import { createDeals, leadOrigins, type SandboxApp, startSandboxApp } from './sandboxApp.js';

let sb: SandboxApp;
const t = tempDir('b24flow-poison-');
const pipelines = join(t.dir, 'pipelines');
const dataDir = join(t.dir, 'data');

beforeAll(async () => {
  cpSync(join(import.meta.dirname, 'fixtures', 'poison'), pipelines, { recursive: true });
  sb = await startSandboxApp(dataDir);
});
afterAll(async () => {
  await sb?.close();
  t.cleanup();
});

describe('poison events', () => {
  it('dead-letters a poison event after N attempts while the rest flow on; dlq replay after the fix processes it', async () => {
    const env = childEnv(dataDir, sb.handle.oauthApp, sb.env);
    expect((await runCli(['events', 'bind', '--pipelines', pipelines], env)).code).toBe(0);
    const deals = await createDeals(sb.hook, 40, (i) => (i === 7 ? 'POISON' : `Deal ${i}`));
    const poisonId = deals[7]!;

    const s = await startServe(
      ['--pipelines', pipelines, '--sync-every', '0.1', '--max-attempts', '3', '--backoff', '100'],
      env,
    );
    let metrics = '';
    for (let i = 0; i < 300; i++) {
      metrics = await (await fetch(`${s.url}/metrics`)).text();
      if (/^b24flow_dlq_entries 1$/m.test(metrics)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(metrics).toMatch(/^b24flow_dlq_entries 1$/m);
    expect(metrics).toMatch(/b24flow_run_failures_total\{pipeline="lead-for-deal"\} 3/);
    // the other 39 flowed on
    const origins = (await leadOrigins(sb.hook)).filter((o) => o.startsWith('deal-'));
    expect(origins.sort()).toEqual(
      deals
        .filter((d) => d !== poisonId)
        .map((d) => `deal-${d}`)
        .sort(),
    );
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    expect(s.stderr()).toMatch(/moved to the dead-letter queue after 3 attempts/);

    // the portal knows it as an error row; nothing else is left in the queue
    const rows = (await sb.app.call<Record<string, unknown>[]>('event.offline.list', { start: 0 })).result;
    expect(rows.map((r) => [String((r.EVENT_DATA as any)?.FIELDS?.ID), String(r.ERROR)])).toEqual([[poisonId, '1']]);

    const list = await runCli(['dlq', 'list', '--json'], env);
    const dl = JSON.parse(list.stdout) as {
      size: number;
      items: { id: string; event: string; objectId: string; attempts: number; error: string; payloadHash: string }[];
    };
    expect(dl.size).toBe(1);
    expect(dl.items[0]).toMatchObject({ event: 'ONCRMDEALADD', objectId: poisonId, attempts: 3 });
    expect(dl.items[0]!.error).toMatch(/division by zero/);
    const show = await runCli(['dlq', 'show', dl.items[0]!.id], env);
    expect(show.stdout).toMatch(/attempts:\s+3/);
    expect(show.stdout).toMatch(new RegExp(`"ID": "?${poisonId}"?`));

    // replay with the bug still there: fails again, stays in the queue, exit 1
    const again = await runCli(['dlq', 'replay', dl.items[0]!.id, '--pipelines', pipelines], env);
    expect(again.code).toBe(1);
    expect(JSON.parse((await runCli(['dlq', 'list', '--json'], env)).stdout).items[0].attempts).toBe(4);

    // fix the pipeline, replay: processed and removed
    copyFileSync(join(import.meta.dirname, 'fixtures', 'poison-fixed.yaml.txt'), join(pipelines, 'lead-for-deal.yaml'));
    const replay = await runCli(['dlq', 'replay', '--all', '--pipelines', pipelines], env);
    expect(replay.code).toBe(0);
    expect(replay.stdout).toMatch(/processed, removed from the queue/);
    const after = (await leadOrigins(sb.hook)).filter((o) => o === `deal-${poisonId}`);
    expect(after).toHaveLength(1);
    expect(JSON.parse((await runCli(['dlq', 'list', '--json'], env)).stdout).size).toBe(0);
  }, 90_000);
});
