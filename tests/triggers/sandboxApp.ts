/**
 * The sandbox portal in the test process (it outlives every `serve` child), with its OAuth application installed
 * and the tokens written where child processes find them (the store of `<dataDir>`).
 */
import { clientForPortal } from '../../src/bitrix/connect.js';
import { B24Client, MemoryTokenStore, registryFor, tokensFromAnswer, WebhookAuth } from '../../src/bitrix/index.js';
import { storeTokens } from '../support/storedTokens.js';

// a variable specifier keeps this file compiling while the sandbox is written in parallel
const SANDBOX = '../../src/sandbox/index.js';

export interface SandboxApp {
  handle: any;
  /** Webhook client (writes that must produce events: they carry no auth_connector). */
  hook: B24Client;
  /** OAuth client of the installed app (event.* methods). */
  app: B24Client;
  env: { B24_CLIENT_ID: string; B24_CLIENT_SECRET: string; B24_PLAN: string; B24_CLOCK_FACTOR: string };
  close(): Promise<void>;
}

const fast = { plan: 'enterprise' as const, clockFactor: 1000 };

/**
 * Starts a sandbox portal and installs its OAuth app, the tokens stored in the store of `dataDir` (or of `at.url`,
 * sealed with `at.key`). With `at.app`, the installed app is that one (another sandbox's client id and secret), as
 * when one Bitrix24 application is installed on several portals: each portal keeps its own OAuth server and member_id.
 */
export async function startSandboxApp(
  dataDir: string,
  opts: Record<string, unknown> = {},
  at: { app?: { clientId: string; clientSecret: string }; url?: string; key?: string } = {},
): Promise<SandboxApp> {
  const { startSandbox } = (await import(SANDBOX)) as { startSandbox(o: unknown): Promise<any> };
  const handle = await startSandbox({ plan: 'unlimited', operatingLimit: 0, quiet: true, size: 10, ...opts });
  const answer = await handle.oauthApp.install();
  const tokens = tokensFromAnswer(answer);
  if (at.app) {
    // the portal's app registration becomes the shared app's (its tokens stay valid; refreshes need the shared id)
    handle.portal.oauth.app.clientId = at.app.clientId;
    handle.portal.oauth.app.clientSecret = at.app.clientSecret;
    handle.oauthApp.clientId = at.app.clientId;
    handle.oauthApp.clientSecret = at.app.clientSecret;
  }
  await storeTokens(dataDir, tokens, { ...(at.url ? { url: at.url } : {}), ...(at.key ? { key: at.key } : {}) });
  const reg = registryFor(
    { clientId: handle.oauthApp.clientId, clientSecret: handle.oauthApp.clientSecret },
    new MemoryTokenStore(),
  );
  await reg.install(tokens);
  const app = clientForPortal(reg, tokens.member_id, { audit: false, limiter: fast });
  const hook = new B24Client({ auth: new WebhookAuth(handle.webhookUrl), audit: false, limiter: fast });
  return {
    handle,
    hook,
    app,
    env: {
      B24_CLIENT_ID: handle.oauthApp.clientId,
      B24_CLIENT_SECRET: handle.oauthApp.clientSecret,
      // the sandbox runs without limits; let the children's limiter go fast too
      B24_PLAN: 'enterprise',
      B24_CLOCK_FACTOR: '1000',
    },
    close: async () => {
      await app.close();
      await hook.close();
      await handle.close();
    },
  };
}

/** Creates `n` deals through the webhook in batches of 50; returns their ids. */
export async function createDeals(
  hook: B24Client,
  n: number,
  title = (i: number) => `Trigger test deal ${i}`,
): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 50) {
    const cmds: Record<string, { method: string; params: Record<string, unknown> }> = {};
    for (let j = i; j < Math.min(n, i + 50); j++)
      cmds[`d${j}`] = { method: 'crm.deal.add', params: { fields: { TITLE: title(j), OPPORTUNITY: 1000 + j } } };
    const r = (await hook.batch(cmds)) as any;
    const results = r.results ?? r.result ?? {};
    for (const k of Object.keys(cmds)) {
      const v = results[k];
      if (v === undefined || v === null)
        throw new Error(`crm.deal.add ${k} failed: ${JSON.stringify(r.errors?.[k] ?? r)}`);
      ids.push(String(v));
    }
  }
  return ids;
}

/** Every lead's ORIGIN_ID (keyset pages, start=-1). */
export async function leadOrigins(client: B24Client): Promise<string[]> {
  const out: string[] = [];
  let last = 0;
  for (;;) {
    const r = await client.call<Record<string, unknown>[]>('crm.lead.list', {
      order: { ID: 'ASC' },
      filter: { '>ID': last },
      select: ['ID', 'ORIGIN_ID'],
      start: -1,
    });
    const rows = r.result;
    for (const row of rows) out.push(String(row.ORIGIN_ID ?? ''));
    if (rows.length < 50) break;
    last = Number(rows.at(-1)!.ID);
  }
  return out;
}
