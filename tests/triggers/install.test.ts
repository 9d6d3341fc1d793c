/**
 * ONAPPINSTALL at the online endpoint, against the sandbox portal's real install flow
 * (`oauthApp.install({handler})` posts ONAPPINSTALL with the app's tokens to the handler): the install is verified
 * through the OAuth token endpoint, the portal's tokens and `application_token` are stored, and the freshly installed
 * app's later online events are verified and dispatched. A forged install is refused and leaves nothing behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { B24Client, clientForPortal, MemoryTokenStore, registryFor, WebhookAuth } from '../../src/bitrix/index.js';
import { startSandbox } from '../../src/sandbox/index.js';
import type { RunRequest } from '../../src/triggers/dispatcher.js';
import { appInstallVerifier } from '../../src/triggers/install.js';
import { startTriggerService, type TriggerService } from '../../src/triggers/service.js';
import { pipelineFromYaml, storesFor, tempDir } from './helpers.js';

let sb: Awaited<ReturnType<typeof startSandbox>>;
let svc: TriggerService;
let hook: B24Client;
const store = new MemoryTokenStore();
const runs: RunRequest[] = [];
const logs: string[] = [];
const t = tempDir('b24flow-install-');

async function until<T>(f: () => Promise<T | undefined> | T | undefined, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; log:\n${logs.join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function post(body: Record<string, string>): Promise<number> {
  const res = await fetch(`${svc.url}/bitrix/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(body).toString(),
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  sb = await startSandbox({ plan: 'unlimited', operatingLimit: 0, quiet: true, size: 10 });
  hook = new B24Client({ auth: new WebhookAuth(sb.webhookUrl), audit: false, limiter: { drain: 1000, burst: 100000 } });
  const registry = registryFor({ clientId: sb.oauthApp.clientId, clientSecret: sb.oauthApp.clientSecret }, store);
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
  svc = await startTriggerService({
    client: hook,
    pipelines: [p],
    dataDir: t.dir,
    stores: await storesFor(t.dir),
    port: 0,
    tokens: new Map(),
    offline: false,
    verifyInstall: appInstallVerifier(registry, { tokenUrl: `${sb.baseUrl}/oauth/token/` }),
    run: async (req) => {
      runs.push(req);
      return { ok: true, status: 'succeeded', runId: `run-${runs.length}` };
    },
    log: (l) => logs.push(l),
  });
});

afterAll(async () => {
  await svc?.close(1000);
  await hook?.close();
  await sb?.close();
  t.cleanup();
});

describe('ONAPPINSTALL at POST /bitrix/events', () => {
  it('refuses a forged install (refresh token the OAuth server does not know) and stores nothing', async () => {
    const status = await post({
      event: 'ONAPPINSTALL',
      'data[VERSION]': '1',
      'auth[member_id]': sb.oauthApp.memberId,
      'auth[refresh_token]': 'forged-refresh-token-0000',
      'auth[access_token]': 'forged-access-token-0000',
      'auth[application_token]': 'forged-app-token-0000',
      'auth[server_endpoint]': 'http://127.0.0.1:9/attacker/',
    });
    expect(status).toBe(401);
    expect(await store.list()).toEqual([]);
    expect(logs.join('\n')).toMatch(/rejected \(401 install-unverified\)/);
    // the forged token does not verify later events either
    expect(
      await post({
        event: 'ONCRMDEALADD',
        'data[FIELDS][ID]': '1',
        'auth[member_id]': sb.oauthApp.memberId,
        'auth[application_token]': 'forged-app-token-0000',
      }),
    ).toBe(401);
    expect(runs).toHaveLength(0);
  });

  it('takes the tokens and application_token from a real install, then verifies the app’s online events', async () => {
    await sb.oauthApp.install({ handler: `${svc.url}/bitrix/events` });
    const stored = await until(() => store.get(sb.oauthApp.memberId), 'the installed portal’s tokens');
    expect(stored.application_token).toBe(sb.oauthApp.applicationToken);
    expect(stored.member_id).toBe(sb.oauthApp.memberId);
    expect(await svc.metrics.value('b24flow_app_installs_total')).toBe(1);

    // the stored tokens work: the app (OAuth) client binds an online handler on the portal
    const registry = registryFor({ clientId: sb.oauthApp.clientId, clientSecret: sb.oauthApp.clientSecret }, store);
    const app = clientForPortal(registry, sb.oauthApp.memberId, {
      audit: false,
      limiter: { drain: 1000, burst: 1000 },
    });
    try {
      await app.call('event.bind', { event: 'ONCRMDEALADD', handler: `${svc.url}/bitrix/events` });
      const id = String((await hook.call('crm.deal.add', { fields: { TITLE: 'after install' } })).result);
      const run = await until(
        () => runs.find((r) => (r.inputs.event as { objectId?: string } | undefined)?.objectId === id),
        `the online ONCRMDEALADD of deal ${id}`,
      );
      expect(run.pipeline.name).toBe('on-deal');
    } finally {
      await app.close();
    }
    // and a wrong token for the now known portal is still refused
    expect(
      await post({
        event: 'ONCRMDEALADD',
        'data[FIELDS][ID]': '2',
        'auth[member_id]': sb.oauthApp.memberId,
        'auth[application_token]': 'wrong-app-token-1111',
      }),
    ).toBe(401);
  });
});
