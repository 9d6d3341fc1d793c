/**
 * Per-call latency of one REST call over a webhook vs over OAuth against the sandbox portal (unlimited plan, same
 * process), sequential calls of `crm.deal.get`: the OAuth path must cost no more than the webhook path (the access
 * token is cached in memory per portal; the token store is read once and written only on refresh). Also the app
 * client `connectApp()` builds for the embedded sandbox (it used to get a default standard-plan limiter: ~500 ms
 * per call past the burst of 50). Prints ms/call.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type B24Client, tokensFromAnswer } from '../src/bitrix/index.js';
import { connect, connectApp } from '../src/cli/compose.js';
import { startSandbox } from '../src/sandbox/index.js';
import { openStore } from '../src/store/index.js';
import { loadStoreKey, StoreTokenStore } from '../src/store/tokens.js';

const N = Number(process.env.AUTH_BENCH_CALLS ?? 1000);

async function perCall(c: B24Client): Promise<number> {
  for (let i = 0; i < 50; i++) await c.call('crm.deal.get', { id: 1 });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await c.call('crm.deal.get', { id: 1 });
  return (performance.now() - t0) / N;
}

const dir = mkdtempSync(join(tmpdir(), 'b24flow-authbench-'));
const sb = await startSandbox({ plan: 'unlimited', operatingLimit: 0, quiet: true, size: 10 });
try {
  const t = tokensFromAnswer((await sb.oauthApp.install()) as unknown as Record<string, unknown>);
  const db = await openStore({ dataDir: dir });
  await new StoreTokenStore(db, await loadStoreKey(dir)).set(t.member_id, t);
  await db.close();
  const common = { B24FLOW_DATA_DIR: dir, B24_PLAN: 'enterprise', B24_CLOCK_FACTOR: '1000' };
  const hook = await connect({ env: { ...common, BITRIX_WEBHOOK_URL: sb.webhookUrl }, dotenv: false });
  const oauth = await connect({
    env: { ...common, B24_CLIENT_ID: sb.oauthApp.clientId, B24_CLIENT_SECRET: sb.oauthApp.clientSecret },
    dotenv: false,
  });
  const rows: Array<[string, number[]]> = [
    ['webhook (connect, audit on)', []],
    ['OAuth, store token store (connect, audit on)', []],
  ];
  for (let round = 0; round < 3; round++) {
    rows[0]![1].push(await perCall(hook.client));
    rows[1]![1].push(await perCall(oauth.client));
  }
  await hook.close();
  await oauth.close();
  const app = await connectApp({
    env: { B24FLOW_DATA_DIR: join(dir, 'app') },
    sandbox: { plan: 'unlimited', operatingLimit: 0, quiet: true, size: 10 },
  });
  rows.push(['OAuth app client of connectApp() (embedded sandbox)', [await perCall(app.client)]]);
  await app.close();
  for (const [label, v] of rows) {
    const best = Math.min(...v);
    console.log(`${label}: ${best.toFixed(3)} ms/call (best of ${v.length} rounds of ${N} sequential calls)`);
  }
} finally {
  await sb.close();
  rmSync(dir, { recursive: true, force: true });
}
