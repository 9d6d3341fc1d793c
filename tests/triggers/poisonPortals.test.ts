/**
 * A poison event on one portal of an OAuth application installed on two (issue 12): the dead letter records the
 * portal it came from, and `b24flow dlq replay --all` (no `B24_MEMBER_ID`) runs it there, not on the default portal.
 * Real `serve`, `dlq` processes; two sandbox portals in the test process.
 */
import { copyFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { childEnv, runCli, startServe } from './processes.js';
import { createDeals, leadOrigins, type SandboxApp, startSandboxApp } from './sandboxApp.js';

const t = tempDir('b24flow-poison-portals-');
const pipelines = join(t.dir, 'pipelines');
const dataDir = join(t.dir, 'data');
let a: SandboxApp;
let b: SandboxApp;

beforeAll(async () => {
  cpSync(join(import.meta.dirname, 'fixtures', 'poison'), pipelines, { recursive: true });
  a = await startSandboxApp(dataDir);
  b = await startSandboxApp(dataDir, {}, { app: a.handle.oauthApp });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  t.cleanup();
});

const leadsFor = async (sb: SandboxApp) => (await leadOrigins(sb.hook)).filter((o) => o.startsWith('deal-'));

describe('dead letters of several portals', () => {
  it('a dead letter records its portal; dlq replay runs it on that portal', async () => {
    const env = childEnv(dataDir, a.handle.oauthApp, a.env);
    for (const sb of [a, b]) {
      const bind = await runCli(['events', 'bind', '--pipelines', pipelines], {
        ...env,
        B24_MEMBER_ID: sb.handle.oauthApp.memberId,
      });
      expect(bind.code, bind.stderr).toBe(0);
    }
    const onA = await createDeals(a.hook, 5);
    const onB = await createDeals(b.hook, 5, (i) => (i === 2 ? 'POISON' : `Deal ${i}`));
    const poisonId = onB[2]!;
    const s = await startServe(
      ['--pipelines', pipelines, '--sync-every', '0.1', '--max-attempts', '2', '--backoff', '100'],
      env,
    );
    for (let i = 0; i < 400; i++) {
      const done = (await leadsFor(a)).length === 5 && (await leadsFor(b)).length === 4;
      if (done && /^b24flow_dlq_entries 1$/m.test(await (await fetch(`${s.url}/metrics`)).text())) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);

    const dl = JSON.parse((await runCli(['dlq', 'list', '--json'], env)).stdout) as {
      items: { objectId: string; memberId?: string }[];
    };
    expect(dl.items).toHaveLength(1);
    expect(dl.items[0]).toMatchObject({ objectId: poisonId, memberId: b.handle.oauthApp.memberId });
    expect((await runCli(['dlq', 'list'], env)).stdout).toContain(`portal ${b.handle.oauthApp.memberId}`);

    copyFileSync(join(import.meta.dirname, 'fixtures', 'poison-fixed.yaml.txt'), join(pipelines, 'lead-for-deal.yaml'));
    const replay = await runCli(['dlq', 'replay', '--all', '--pipelines', pipelines], env);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toContain(`(portal ${b.handle.oauthApp.memberId}): processed, removed from the queue`);
    // the lead went to portal B, where the deal is; portal A (the default portal) got nothing more
    expect((await leadsFor(b)).sort()).toEqual(onB.map((d) => `deal-${d}`).sort());
    expect((await leadsFor(a)).sort()).toEqual(onA.map((d) => `deal-${d}`).sort());
  }, 120_000);
});
