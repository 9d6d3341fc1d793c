/**
 * Param-dependent effects at run time (catalog `effects`): `event.offline.get` reads like a read, but with its
 * default `clear=1` it removes the events it returns
 * (https://apidocs.bitrix24.com/api-reference/events/event-offline-get.html). Through the real CLI against the
 * sandbox portal: a shadow run plans it as a destructive write and leaves the queue as it was; `b24flow call` asks for
 * `--confirm-destructive` and says why; with `clear: 0` it is the pure read it looks like.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appEnv, cli, startPortal, type TestPortal } from './helpers.js';

let p: TestPortal;
let env: NodeJS.ProcessEnv;

async function queued(): Promise<number> {
  const r = await cli(['call', 'event.offline.list', '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return Number((JSON.parse(r.stdout) as { total?: number }).total ?? 0);
}

beforeAll(async () => {
  p = await startPortal({ size: 20 });
  env = await appEnv(p);
  const bind = await cli(
    ['call', 'event.bind', '--params', '{"event":"ONCRMDEALUPDATE","event_type":"offline"}', '--confirm-write'],
    env,
  );
  expect(bind.code, bind.stderr).toBe(0);
  for (const id of [1, 2, 3]) await p.client.call('crm.deal.update', { id, fields: { COMMENTS: `touch ${id}` } });
  expect(await queued()).toBe(3);
});
afterAll(async () => {
  await p?.close();
});

describe('param-dependent effects', () => {
  it('a shadow run plans event.offline.get (clear defaults to 1) as destructive and sends nothing', async () => {
    const file = join(p.dataDir, 'take-events.yaml');
    writeFileSync(
      file,
      `name: take-events
packs: [core]
steps:
  - id: take
    method: event.offline.get
    params: { limit: 10 }
`,
    );
    const r = await cli(['run', file, '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { mode: string; writes: { step: string; risk: string }[] };
    expect(out.mode).toBe('shadow');
    expect(out.writes.map((w) => [w.step, w.risk])).toEqual([['take', 'destructive']]);
    expect(await queued()).toBe(3);
  });

  it('call refuses event.offline.get without --confirm-destructive and names the param', async () => {
    const r = await cli(['call', 'event.offline.get'], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/destructive \(clear=1, the default: .*\).*--confirm-destructive/);
    const batch = await cli(['call', 'batch', '--params', '{"cmd":{"a":"event.offline.get?limit=5"}}'], env);
    expect(batch.code).toBe(2);
    expect(batch.stderr).toMatch(/--confirm-destructive/);
    expect(await queued()).toBe(3);
  });

  it('with clear: 0 it is a pure read', async () => {
    const r = await cli(['call', 'event.offline.get', '--params', '{"clear":0}', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { result: { events: unknown[] } }).result.events).toHaveLength(3);
    expect(await queued()).toBe(3);
  });
});
