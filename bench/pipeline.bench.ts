/**
 * Pipeline benchmarks (issue 5), part of `npm run bench`:
 * 1. stale-deals on 5,000 sandbox deals with batching on vs off: HTTP requests (server-side count) and seconds;
 *    target: on ≤ 1/40 of the requests of off.
 * 2. Interpreter overhead: µs per step of a 10,000-step shadow run (no I/O: every step resolves a write).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { B24Client, WebhookAuth } from '../src/bitrix/index.js';
import { defaultCatalog } from '../src/pipeline/catalog.js';
import type { PipelineClient } from '../src/pipeline/client.js';
import { PLAN_RATES } from '../src/pipeline/cost.js';
import { MemoryJournal } from '../src/pipeline/journal.js';
import { loadPipelineText } from '../src/pipeline/load.js';
import { runPipeline } from '../src/pipeline/run/index.js';
import { startSandbox } from '../src/sandbox/index.js';

const root = join(import.meta.dirname, '..');
const catalog = await defaultCatalog();
const DEALS = Number(process.env.BENCH_DEALS ?? 5000);

async function staleDeals(batching: boolean) {
  const sb = await startSandbox({ size: DEALS, seed: 1, plan: 'unlimited', operatingLimit: 0, quiet: true });
  const client = new B24Client({
    auth: new WebhookAuth(sb.webhookUrl),
    audit: false,
    limiter: { drain: 100_000, burst: 1_000_000, maxConcurrency: 6 },
  });
  try {
    const p = loadPipelineText(
      readFileSync(join(root, 'pipelines/stale-deals.yaml'), 'utf8'),
      'pipelines/stale-deals.yaml',
    );
    await sb.admin.resetStats();
    const t0 = performance.now();
    const r = await runPipeline(p, {
      client,
      catalog,
      mode: 'full',
      confirmWrite: true,
      batching,
      journal: new MemoryJournal(),
      lang: 'en',
    });
    const seconds = (performance.now() - t0) / 1000;
    const stats = await sb.admin.stats();
    if (r.status !== 'completed') throw new Error(`run ${r.status}: ${r.error}`);
    const writes = r.steps.filter((s) => s.risk === 'write').reduce((a, s) => a + s.done, 0);
    return { requests: stats.requests, seconds, writes, summary: r.summary.en.join('; ') };
  } finally {
    await client.close();
    await sb.close();
  }
}

console.log(
  `stale-deals on ${DEALS} sandbox deals (unlimited sandbox plan; standard-plan time projected at 2 req/s, burst 50)`,
);
const on = await staleDeals(true);
const off = await staleDeals(false);
const std = PLAN_RATES.standard!;
const project = (req: number) => Math.max(0, req - std.burst) / std.rate;
for (const [name, r] of [
  ['batching on ', on],
  ['batching off', off],
] as const)
  console.log(
    `  ${name}: ${String(r.requests).padStart(6)} requests, ${r.seconds.toFixed(2).padStart(6)} s locally, ` +
      `~${Math.round(project(r.requests))} s on a standard portal — ${r.summary}`,
  );
const ratio = on.requests / off.requests;
console.log(`  requests on/off = 1/${(1 / ratio).toFixed(1)} (target ≤ 1/40): ${ratio <= 1 / 40 ? 'OK' : 'MISSED'}`);
if (on.writes !== off.writes) console.log(`  WARNING: writes differ (${on.writes} vs ${off.writes})`);

// ---- interpreter overhead
const STEPS = 10_000;
const steps = Array.from({ length: STEPS }, (_, i) => ({
  id: `s${i}`,
  method: 'tasks.task.add',
  ...(i ? { needs: [`s${i - 1}`] } : {}),
  params: {
    fields: {
      TITLE: { $template: `Step {{ inputs.base + ${i} }} of {{ inputs.name }}` },
      RESPONSIBLE_ID: `\${{ inputs.user }}`,
      DEADLINE: `\${{ isoDateTime(daysAhead(2)) }}`,
    },
  },
}));
const big = loadPipelineText(
  stringify({
    name: 'overhead',
    inputs: {
      base: { type: 'int', default: 1 },
      name: { type: 'string', default: 'bench' },
      user: { type: 'int', default: 1 },
    },
    steps,
  }),
  'overhead.yaml',
);
const noIo: PipelineClient = {
  async call() {
    throw new Error('no I/O expected');
  },
  async batch() {
    throw new Error('no I/O expected');
  },
};
for (let round = 0; round < 2; round++) {
  const t0 = performance.now();
  const r = await runPipeline(big, { client: noIo, catalog, mode: 'shadow', journal: false, lang: 'en' });
  const ms = performance.now() - t0;
  if (r.plan?.writes.length !== STEPS)
    throw new Error(`expected ${STEPS} planned writes, got ${r.plan?.writes.length}`);
  console.log(
    `interpreter overhead (${round ? 'warm' : 'cold'}): ${STEPS} steps in ${ms.toFixed(0)} ms = ${((ms * 1000) / STEPS).toFixed(1)} µs/step (shadow run, 3 expressions per step)`,
  );
}
