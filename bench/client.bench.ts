/**
 * Client benchmark (issue 4): b24flow vs the official SDK `@bitrix24/b24jssdk` on the same sandbox portal
 * (standard limits: 2 req/s drain, burst 50; operating budget 480 s per method per 10 min; https with the sandbox's
 * self-signed CA because the SDK only speaks https). The sandbox clock runs `CLOCK_FACTOR`× faster than real time;
 * limits stay in portal seconds, and both clients are told the same factor (the SDK through its own
 * `restrictionParams`: drainRate × factor).
 *
 * Parts:
 * 1. export of 100,000 deals, fresh request bucket: b24flow `exportAll` vs the SDK's `actions.v2.callList`
 *    (keyset, one request per 50 rows, sequential). The SDK run is measured on the first 10,000 deals and
 *    extrapolated (its best case: the remaining requests at exactly the drain rate); both figures are printed.
 * 2. the same export with the request bucket already full (steady state): the bound the limits allow is
 *    ceil(N / 2,500) requests at 2 req/s; b24flow must reach ≥ 90 % of that bound.
 * 3. 2,000 `crm.deal.add`: b24flow `batch` (auto-chunked by 50) vs the SDK's `actions.v2.batchByChunk`.
 * Checks: 503/429 received by b24flow = 0; no row lost or duplicated (ID sets compared); requests ≤ 41 for the adds.
 *
 * The SDK runs in a child process because Node reads NODE_EXTRA_CA_CERTS only at start-up.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

const CLOCK_FACTOR = Number(process.env.BENCH_CLOCK_FACTOR ?? 5);
const DEALS = Number(process.env.BENCH_DEALS ?? 100_000);
const SDK_SUBSET = Number(process.env.BENCH_SDK_SUBSET ?? 10_000);
const ADDS = 2_000;
const DRAIN = 2;
const BURST = 50;
const ROWS_PER_REQUEST = 50 * 50;

interface SdkOut {
  ms: number;
  rows?: number;
  ids?: number[];
  errors?: string[];
}

// ---------------------------------------------------------------- SDK child process
async function sdkChild(mode: string): Promise<void> {
  const { B24Hook } = await import('@bitrix24/b24jssdk');
  const url = process.env.BENCH_WEBHOOK!;
  const factor = Number(process.env.BENCH_FACTOR);
  const b24 = B24Hook.fromWebhookUrl(url.replace(/\/$/, ''), {
    restrictionParams: { rateLimit: { burstLimit: BURST, drainRate: DRAIN * factor, adaptiveEnabled: true } },
  } as any);
  b24.offClientSideWarning();
  const t0 = performance.now();
  const out: SdkOut = { ms: 0 };
  if (mode === 'export') {
    const res = await b24.actions.v2.callList.make<{ ID: string }>({
      method: 'crm.deal.list',
      params: {
        filter: { '<=ID': Number(process.env.BENCH_SUBSET) },
        select: ['ID', 'TITLE', 'STAGE_ID', 'OPPORTUNITY'],
      },
      idKey: 'ID',
    });
    const rows = res.getData() ?? [];
    out.rows = rows.length;
    out.ids = rows.map((r) => Number(r.ID));
    if (!res.isSuccess) out.errors = res.getErrorMessages();
  } else {
    const calls = Array.from({ length: ADDS }, (_, i) => ({
      method: 'crm.deal.add',
      params: { fields: { TITLE: `sdk bench ${i}`, OPPORTUNITY: i } },
    }));
    const res = await b24.actions.v2.batchByChunk.make<number>({ calls, options: { isHaltOnError: false } });
    const ids = (res.getData() ?? []).map(Number);
    out.rows = ids.length;
    out.ids = ids;
    if (!res.isSuccess) out.errors = res.getErrorMessages();
  }
  out.ms = performance.now() - t0;
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------- main process
async function main(): Promise<void> {
  const sandboxModule = '../src/sandbox/index.js';
  const { startSandbox } = (await import(sandboxModule)) as {
    startSandbox: (o: Record<string, unknown>) => Promise<any>;
  };
  const { B24Client } = await import('../src/bitrix/client.js');
  const { WebhookAuth } = await import('../src/bitrix/auth/webhook.js');
  const { forgetLimiter } = await import('../src/bitrix/limiter/index.js');

  const t0 = performance.now();
  const sandbox = await startSandbox({
    size: DEALS,
    plan: 'standard',
    operatingLimit: 480,
    clockFactor: CLOCK_FACTOR,
    tls: true,
    quiet: true,
    seed: 1,
  });
  const caFile = sandbox.caFile!;
  const ca = readFileSync(caFile);
  const admin = new Agent({ connect: { ca } });
  const adminCall = async (path: string, body?: unknown) => {
    const res = await request(`${sandbox.baseUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      dispatcher: admin,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return (await res.body.json()) as any;
  };
  const stats = () => adminCall('/sandbox/stats');
  const resetStats = () => adminCall('/sandbox/stats/reset', {});
  /** Waits until the portal's request bucket has drained (burst / drain portal seconds). */
  const drain = () => new Promise((r) => setTimeout(r, ((BURST / DRAIN) * 1000) / CLOCK_FACTOR + 300));
  const host = new URL(sandbox.baseUrl).host;
  const newClient = () => {
    forgetLimiter(`webhook:${host}`);
    return new B24Client({
      auth: new WebhookAuth(sandbox.webhookUrl),
      ca,
      limiter: { plan: 'standard', operatingLimit: 480, clockFactor: CLOCK_FACTOR },
    });
  };
  console.log(
    `sandbox: ${DEALS.toLocaleString('en')} deals, plan standard (drain ${DRAIN} req/s, burst ${BURST}), operating budget 480 s/10 min, ` +
      `clock factor ${CLOCK_FACTOR}× (portal seconds = real seconds × ${CLOCK_FACTOR}), https; started in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // ground truth: the server's own count
  const probe = newClient();
  const total = Number((await probe.call('crm.deal.list', { select: ['ID'], start: 0 })).total);
  await probe.close();
  const failures: string[] = [];
  const check = (ok: boolean, what: string) => {
    console.log(`  [${ok ? 'PASS' : 'FAIL'}] ${what}`);
    if (!ok) failures.push(what);
  };

  // ------------------------------------------------------------ 1. export, fresh bucket
  const exportRun = async (prefill: boolean) => {
    await drain();
    const client = newClient();
    if (prefill) {
      // Bring the portal's bucket to its burst (steady state) with cheap calls through the same limiter.
      await Promise.all(Array.from({ length: BURST - 2 }, () => client.call('server.time')));
    }
    await resetStats();
    const ids: number[] = [];
    const started = performance.now();
    for await (const page of client.exportAll<{ ID: string }>('crm.deal.list', {
      select: ['ID', 'TITLE', 'STAGE_ID', 'OPPORTUNITY'],
    })) {
      for (const r of page) ids.push(Number(r.ID));
    }
    const ms = performance.now() - started;
    const s = await stats();
    const cs = client.stats();
    await client.close();
    return { ids, ms, requests: s.requests as number, c503: cs.status503, c429: cs.status429, server: s };
  };
  const fresh = await exportRun(false);
  const freshSet = new Set(fresh.ids);

  await drain();
  await resetStats();
  const sdkExp = await runSdk('export', sandbox.webhookUrl, caFile, SDK_SUBSET);
  const sdkExpStats = await stats();
  const sdkRequests = sdkExpStats.requests as number;
  const sdkRows = sdkExp.rows ?? 0;
  const fullRequests = Math.ceil(total / 50) + (total % 50 === 0 ? 1 : 0);
  // SDK best case beyond the subset: every further request at exactly the drain rate (real s = portal s / factor)
  const sdkFullMs = sdkExp.ms + ((fullRequests - sdkRequests) / DRAIN / CLOCK_FACTOR) * 1000;

  // ------------------------------------------------------------ 2. export, steady state (bucket full)
  const steady = await exportRun(true);
  const steadySet = new Set(steady.ids);
  const minRequests = Math.ceil(total / ROWS_PER_REQUEST);
  const boundFreshPortalS = Math.max(0, minRequests - BURST) / DRAIN;
  const boundSteadyPortalS = minRequests / DRAIN;
  const steadyPortalS = (steady.ms / 1000) * CLOCK_FACTOR;
  const freshPortalS = (fresh.ms / 1000) * CLOCK_FACTOR;

  console.log(`\nexport of ${total.toLocaleString('en')} deals (crm.deal.list, 4 fields)`);
  console.log(
    `  bound the limits allow: ≥ ${minRequests} requests (50 pages × 50 rows each); fresh bucket: ${boundFreshPortalS.toFixed(1)} portal s of waiting ` +
      `(all fit in the burst of ${BURST}); steady state: ${minRequests} / ${DRAIN} req/s = ${boundSteadyPortalS.toFixed(1)} portal s = ${(total / boundSteadyPortalS).toFixed(0)} rows/s`,
  );
  console.log(
    `  b24flow, fresh bucket:  ${(fresh.ms / 1000).toFixed(2)} s real (${freshPortalS.toFixed(1)} portal s), ${fresh.requests} requests, ` +
      `${Math.round(total / (fresh.ms / 1000)).toLocaleString('en')} rows/s real, 503: ${fresh.c503}, 429: ${fresh.c429}`,
  );
  console.log(
    `  b24flow, steady state:  ${(steady.ms / 1000).toFixed(2)} s real (${steadyPortalS.toFixed(1)} portal s), ${steady.requests} requests, ` +
      `${Math.round(total / steadyPortalS).toLocaleString('en')} rows per portal s = ${((boundSteadyPortalS / steadyPortalS) * 100).toFixed(1)} % of the bound, 503: ${steady.c503}, 429: ${steady.c429}`,
  );
  console.log(
    `  SDK callList, measured on the first ${SDK_SUBSET.toLocaleString('en')} deals: ${(sdkExp.ms / 1000).toFixed(2)} s real, ${sdkRequests} requests, ${sdkRows} rows` +
      (sdkExp.errors?.length ? `, errors: ${sdkExp.errors.join('; ')}` : ''),
  );
  console.log(
    `  SDK callList, extrapolated to ${total.toLocaleString('en')} deals: ≥ ${(sdkFullMs / 1000).toFixed(1)} s real (${((sdkFullMs / 1000) * CLOCK_FACTOR).toFixed(0)} portal s), ${fullRequests} requests`,
  );
  const speedup = sdkFullMs / fresh.ms;
  console.log(
    `  b24flow vs SDK: ${speedup.toFixed(1)}× faster, ${(fullRequests / fresh.requests).toFixed(1)}× fewer requests`,
  );
  check(
    freshSet.size === total && fresh.ids.length === total,
    `fresh export: ${fresh.ids.length} rows, ${freshSet.size} distinct = server total ${total}`,
  );
  check(
    steadySet.size === total && steady.ids.length === total,
    `steady export: ${steady.ids.length} rows, ${steadySet.size} distinct = server total ${total}`,
  );
  const sdkSet = new Set(sdkExp.ids ?? []);
  const expectSub = fresh.ids.filter((id) => id <= SDK_SUBSET);
  check(
    sdkSet.size === expectSub.length && expectSub.every((id) => sdkSet.has(id)),
    `SDK subset ID set equals b24flow's IDs ≤ ${SDK_SUBSET} (${sdkSet.size} rows)`,
  );
  check(boundSteadyPortalS / steadyPortalS >= 0.9, 'b24flow within 90 % of the bound (steady state)');
  check(speedup >= 20, 'b24flow ≥ 20× faster than the SDK (100k export)');
  check(fresh.c503 + fresh.c429 + steady.c503 + steady.c429 === 0, 'b24flow received no 503/429 in the exports');

  // ------------------------------------------------------------ 3. 2,000 crm.deal.add
  await drain();
  const client = newClient();
  await resetStats();
  const addStart = performance.now();
  const res = await client.batch(
    Array.from({ length: ADDS }, (_, i) => ({
      method: 'crm.deal.add',
      params: { fields: { TITLE: `b24flow bench ${i}`, OPPORTUNITY: i } },
    })),
  );
  const addMs = performance.now() - addStart;
  const addStats = await stats();
  const addIds = res.list().map(Number);
  const cs = client.stats();
  await client.close();

  await drain();
  await resetStats();
  const sdkAdd = await runSdk('add', sandbox.webhookUrl, caFile, 0);
  const sdkAddStats = await stats();
  console.log(`\n${ADDS.toLocaleString('en')} × crm.deal.add`);
  console.log(
    `  b24flow batch: ${(addMs / 1000).toFixed(2)} s real, ${addStats.requests} requests, ${Object.keys(res.errors).length} errors, 503: ${cs.status503}, 429: ${cs.status429}`,
  );
  console.log(
    `  SDK batchByChunk: ${(sdkAdd.ms / 1000).toFixed(2)} s real, ${sdkAddStats.requests} requests, ${sdkAdd.rows} ids` +
      (sdkAdd.errors?.length ? `, errors: ${sdkAdd.errors.slice(0, 3).join('; ')}` : ''),
  );
  check(addStats.requests <= 41, `b24flow adds used ${addStats.requests} requests (≤ 41)`);
  check(
    new Set(addIds).size === ADDS && addIds.every((n) => n > 0),
    `b24flow created ${new Set(addIds).size} distinct deals`,
  );
  check(cs.status503 + cs.status429 === 0, 'b24flow received no 503/429 in the adds');
  console.log(
    `\nbench client: ${failures.length ? `${failures.length} check(s) failed` : 'all checks passed'} (total ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
  );
  await admin.close();
  await sandbox.close();
  process.exitCode = failures.length ? 1 : 0;
}

/** Runs one SDK part in a child process (the sandbox keeps serving in this one). */
function runSdk(mode: string, webhook: string, caFile: string, subset: number): Promise<SdkOut> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--sdk', mode], {
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: caFile,
        BENCH_WEBHOOK: webhook,
        BENCH_FACTOR: String(CLOCK_FACTOR),
        BENCH_SUBSET: String(subset),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as SdkOut);
      } catch {
        reject(new Error(`SDK child failed (${code}): ${err.slice(-2000)}`));
      }
    });
  });
}

const sdkIdx = process.argv.indexOf('--sdk');
if (sdkIdx >= 0) await sdkChild(process.argv[sdkIdx + 1] ?? 'export');
else await main();
