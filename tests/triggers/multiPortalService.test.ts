/**
 * The trigger service serving several portals of one OAuth application (in process): an online event runs through
 * the client of the portal its `auth[member_id]` names, the same change on two portals is two runs, and an event of a
 * portal that is neither served nor installed is never run on another portal's client.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { OfflineStateStore, OfflineSyncState } from '../../src/triggers/offlineSync.js';
import { type ServiceClient, startTriggerService, type TriggerService } from '../../src/triggers/service.js';
import { pipelineFromYaml, storesFor, tempDir } from './helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const A = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const TOKEN_A = 'a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0';
const TOKEN_B = 'b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0';

/** An offline worker state in memory (the service runs no offline worker here). */
function memoryState(): OfflineStateStore {
  let saved: OfflineSyncState | undefined;
  return {
    load: async () => saved,
    save: async (s) => {
      saved = s;
    },
  };
}

/** A fake portal client that records the methods called on it. */
function fakeClient(id: string) {
  const calls: string[] = [];
  const client = {
    portal: { id, kind: 'oauth' as const },
    call: async (method: string, params?: unknown) => {
      calls.push(`${method} ${JSON.stringify(params)}`);
      return { result: { ID: '7' } };
    },
    batch: async () => ({ result: { result: {}, result_error: {} } }),
  } as unknown as ServiceClient;
  return { calls, client };
}

function dealAdd(id: string, member: string, token: string): string {
  return new URLSearchParams({
    event: 'ONCRMDEALADD',
    'data[FIELDS][ID]': id,
    ts: '1766047124',
    'auth[member_id]': member,
    'auth[application_token]': token,
  }).toString();
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}

describe('a trigger service serving two portals', () => {
  it('routes each online event to its portal; the same deal id on both portals runs once on each', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const p = await pipelineFromYaml(
      t.dir,
      'on-deal',
      `name: on-deal
triggers:
  - event: { events: [ONCRMDEALADD], approve: [write] }
steps:
  - id: deal
    method: crm.deal.get
    params: { id: "\${{ inputs.event.objectId }}" }
`,
    );
    const a = fakeClient(A);
    const b = fakeClient(B);
    const logs: string[] = [];
    const tokens = new Map([[A, TOKEN_A]]);
    const svc: TriggerService = await startTriggerService({
      client: a.client,
      portalKey: A,
      pipelines: [p],
      dataDir: t.dir,
      stores: await storesFor(t.dir),
      tokens,
      offline: false,
      portals: {
        list: async () => [
          { memberId: A, client: a.client, offline: memoryState() },
          { memberId: B, client: b.client, offline: memoryState(), applicationToken: TOKEN_B },
        ],
      },
      log: (l) => logs.push(l),
    });
    cleanups.push(() => svc.close(1000));
    // portal b's application token came with the directory
    expect(tokens.get(B)).toBe(TOKEN_B);
    const post = (body: string) =>
      fetch(`${svc.url}/bitrix/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
    expect((await post(dealAdd('7', A, TOKEN_A))).status).toBe(200);
    expect((await post(dealAdd('7', B, TOKEN_B))).status).toBe(200);
    // portal b's token on portal a's member_id is refused
    expect((await post(dealAdd('8', A, TOKEN_B))).status).toBe(401);
    await until(() => a.calls.length >= 1 && b.calls.length >= 1);
    await svc.intake.drain();
    // portal b's change delivered again: recorded as processed under portal b, so it does not run twice
    expect((await post(dealAdd('7', B, TOKEN_B))).status).toBe(200);
    await svc.intake.drain();
    expect(a.calls.filter((c) => c.startsWith('crm.deal.get'))).toEqual(['crm.deal.get {"id":"7"}']);
    expect(b.calls.filter((c) => c.startsWith('crm.deal.get'))).toEqual(['crm.deal.get {"id":"7"}']);
    expect(logs.some((l) => l.includes(`serving portal ${B}`))).toBe(true);
  });
});
