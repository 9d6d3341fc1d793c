/**
 * `npm run bench:sandbox`: server-side latency (p50/p99, ms from request start to last byte written, measured
 * inside the sandbox) of crm.deal.list (keyset page, counted page), crm.deal.get, crm.deal.add and batch at
 * 100,000 deals, the requests/s sustained with limits off, and the build time / heap at 100k and 1M deals.
 * Flags: --deals N (default 100000), --no-million (skip the 1,000,000-deal build), --seconds S (throughput run, default 5).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { startSandbox } from '../src/sandbox/index.js';

/** Load generator run in a worker thread so the client does not share the server's event loop. */
const LOAD_GEN = `
const { Pool } = require('undici');
const { workerData, parentPort } = require('node:worker_threads');
const { origin, path, kind, ms, deals } = workerData;
const pool = new Pool(origin, { connections: 16 });
let seed = 99;
const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed / 0x7fffffff; };
const end = Date.now() + ms;
let done = 0;
const one = async () => {
  const body = kind === 'get'
    ? JSON.stringify({ id: 1 + Math.floor(rnd() * deals) })
    : kind === 'ceiling' ? '{}'
    : JSON.stringify({ order: { ID: 'ASC' }, filter: { '>ID': Math.floor(rnd() * (deals - 60)) }, start: -1, select: ['ID', 'TITLE', 'STAGE_ID', 'OPPORTUNITY'] });
  const r = await pool.request({ path: kind === 'ceiling' ? '/' : path + (kind === 'get' ? 'crm.deal.get' : 'crm.deal.list'), method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await r.body.text();
  if (r.statusCode !== 200) throw new Error('status ' + r.statusCode);
  done++;
};
const loop = async () => { while (Date.now() < end) await one(); };
Promise.all(Array.from({ length: 16 }, loop)).then(async () => { parentPort.postMessage(done); await pool.close(); });
`;

const args = process.argv.slice(2);
const flag = (name: string, def: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const DEALS = flag('--deals', 100_000);
const SECONDS = flag('--seconds', 5);
const million = !args.includes('--no-million');

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 1);
const heapMb = () => {
  globalThis.gc?.();
  return Math.round(process.memoryUsage().heapUsed / 1e6);
};

async function main(): Promise<void> {
  let t0 = performance.now();
  const sb = await startSandbox({ size: DEALS, plan: 'unlimited', operatingLimit: 0, quiet: true });
  const buildMs = performance.now() - t0;
  console.log(`build: ${DEALS.toLocaleString('en')} deals ready in ${Math.round(buildMs)} ms, heap ${heapMb()} MB`);
  const timings = new Map<string, number[]>();
  let probe = '';
  sb.server.onTiming = (_m, ms) => {
    if (probe) {
      const list = timings.get(probe) ?? [];
      list.push(ms);
      timings.set(probe, list);
    }
  };
  const post = async (method: string, body: unknown) => {
    const res = await fetch(sb.webhookUrl + method, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as any;
    if (!res.ok) throw new Error(`${method}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  let seed = 12345;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const scenario = async (name: string, n: number, fn: () => Promise<unknown>) => {
    for (let i = 0; i < 20; i++) await fn(); // warm-up
    probe = name;
    for (let i = 0; i < n; i++) await fn();
    probe = '';
    const xs = timings.get(name)!;
    console.log(
      `${name.padEnd(48)} n=${String(xs.length).padStart(5)}  p50 ${fmt(pct(xs, 50)).padStart(6)} ms  p99 ${fmt(pct(xs, 99)).padStart(6)} ms`,
    );
  };
  const keyset = (select?: string[]) => () =>
    post('crm.deal.list', {
      order: { ID: 'ASC' },
      filter: { '>ID': Math.floor(rnd() * (DEALS - 60)) },
      start: -1,
      ...(select ? { select } : {}),
    });
  console.log(`\nserver-side latency at ${DEALS.toLocaleString('en')} deals (sequential requests, keep-alive):`);
  await scenario('crm.deal.list keyset page (50 rows, all fields)', 1000, keyset());
  await scenario(
    'crm.deal.list keyset page (50 rows, 4 fields)',
    1000,
    keyset(['ID', 'TITLE', 'STAGE_ID', 'OPPORTUNITY']),
  );
  await scenario('crm.deal.list counted page (start=0, filter)', 200, () =>
    post('crm.deal.list', { filter: { STAGE_ID: 'WON', '>OPPORTUNITY': 100000 }, select: ['ID', 'TITLE'], start: 0 }),
  );
  await scenario('crm.item.list keyset page (50 rows)', 500, () =>
    post('crm.item.list', {
      entityTypeId: 2,
      order: { id: 'ASC' },
      filter: { '>id': Math.floor(rnd() * (DEALS - 60)) },
      start: -1,
    }),
  );
  await scenario('crm.deal.get', 1000, () => post('crm.deal.get', { id: 1 + Math.floor(rnd() * DEALS) }));
  await scenario('crm.deal.add', 1000, () =>
    post('crm.deal.add', { fields: { TITLE: 'Bench deal', OPPORTUNITY: 1000, ASSIGNED_BY_ID: 1 } }),
  );
  await scenario('batch: 50 × crm.deal.get', 200, () =>
    post('batch', {
      halt: 0,
      cmd: Object.fromEntries(
        Array.from({ length: 50 }, (_, i) => [`g${i}`, `crm.deal.get?id=${1 + Math.floor(rnd() * DEALS)}`]),
      ),
    }),
  );
  await scenario('batch: 50 chained keyset pages (2,500 rows)', 50, () => {
    const startId = Math.floor(rnd() * (DEALS - 3000));
    const cmd: Record<string, string> = {
      p0: `crm.deal.list?order[ID]=ASC&filter[>ID]=${startId}&start=-1&select[]=ID&select[]=TITLE`,
    };
    for (let i = 1; i < 50; i++)
      cmd[`p${i}`] =
        `crm.deal.list?order[ID]=ASC&filter[>ID]=$result[p${i - 1}][49][ID]&start=-1&select[]=ID&select[]=TITLE`;
    return post('batch', { halt: 1, cmd });
  });

  // throughput with limits off: a load generator in a worker thread (undici Pool, 16 keep-alive connections);
  // a bare node:http "hello world" under the same generator gives this machine's ceiling for comparison
  const ceiling = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 12 });
      res.end('{"result":1}');
    });
  });
  await new Promise<void>((r) => ceiling.listen(0, '127.0.0.1', () => r()));
  const ceilingOrigin = `http://127.0.0.1:${(ceiling.address() as AddressInfo).port}`;
  for (const kind of ['ceiling', 'get', 'keyset'] as const) {
    const url = new URL(sb.webhookUrl);
    const done = await new Promise<number>((resolve, reject) => {
      const origin = kind === 'ceiling' ? ceilingOrigin : url.origin;
      const w = new Worker(LOAD_GEN, {
        eval: true,
        workerData: { origin, path: url.pathname, kind, ms: SECONDS * 1000, deals: DEALS },
      });
      w.once('message', resolve);
      w.once('error', reject);
    });
    const label =
      kind === 'ceiling'
        ? 'node:http hello-world (ceiling)'
        : kind === 'get'
          ? 'crm.deal.get'
          : 'crm.deal.list keyset (4 fields)';
    console.log(
      `throughput ${label.padEnd(32)} 16 connections, ${SECONDS} s: ${Math.round(done / SECONDS).toLocaleString('en')} requests/s`,
    );
  }
  ceiling.close();
  await sb.close();

  if (million) {
    t0 = performance.now();
    const big = await startSandbox({ size: 1_000_000, plan: 'unlimited', operatingLimit: 0, quiet: true });
    const ms = performance.now() - t0;
    console.log(`\nbuild: 1,000,000 deals ready in ${Math.round(ms)} ms, heap ${heapMb()} MB`);
    const xs: number[] = [];
    big.server.onTiming = (_m, t) => xs.push(t);
    for (let i = 0; i < 300; i++) {
      await fetch(big.webhookUrl + 'crm.deal.list', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ order: { ID: 'ASC' }, filter: { '>ID': Math.floor(rnd() * 999_000) }, start: -1 }),
      }).then((r) => r.arrayBuffer());
    }
    console.log(
      `crm.deal.list keyset page at 1,000,000 deals: p50 ${fmt(pct(xs.slice(20), 50))} ms  p99 ${fmt(pct(xs.slice(20), 99))} ms`,
    );
    await big.close();
  }
}

await main();
