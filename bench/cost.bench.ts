/**
 * Issue 15: the cost estimate of a run paced by the operating budget, before (request rate only) and after (the
 * client's operating outlook: budget spent, measured cost per call, sliding 10-minute window), against the run's real
 * time. Sandbox with a fast clock (COST_BENCH_CLOCK, default 30× — the 10-minute window lasts 20 real seconds), a
 * small operating budget (COST_BENCH_LIMIT s, default 3) and COST_BENCH_SIZE deals (default 1000 → 500 contacts):
 * the pipeline lists the contacts and reads each one (crm.item.get), so the run needs about 5 s of server time
 * for one method, after its plan spent as much.
 */
import { loadPipelineText } from '../src/pipeline/load.js';

const F = Number(process.env.COST_BENCH_CLOCK ?? 30);
const LIMIT = Number(process.env.COST_BENCH_LIMIT ?? 3);
const SIZE = Number(process.env.COST_BENCH_SIZE ?? 1000);

const { startSandbox } = await import('../src/sandbox/index.js');
const { B24Client } = await import('../src/bitrix/client.js');
const { WebhookAuth } = await import('../src/bitrix/auth/webhook.js');
const { estimateCost } = await import('../src/pipeline/cost.js');
const { planPipeline, runPipeline } = await import('../src/pipeline/run/index.js');
const { compile } = await import('../src/pipeline/compile/program.js');
const { defaultCatalog } = await import('../src/pipeline/catalog.js');

const sb = await startSandbox({
  size: SIZE,
  plan: 'enterprise',
  operatingLimit: LIMIT,
  clockFactor: F,
  quiet: true,
  seed: 1,
});
const client = new B24Client({
  auth: new WebhookAuth(sb.webhookUrl),
  audit: false,
  limiter: { plan: 'enterprise', operatingLimit: LIMIT, clockFactor: F },
});
const p = loadPipelineText(
  `name: read-every-contact
packs: [core]
steps:
  - id: contacts
    method: crm.item.list
    all: true
    params: { entityTypeId: 3, select: [id] }
  - id: each
    foreach: \${{ steps.contacts.result }}
    method: crm.item.get
    params: { entityTypeId: 3, id: "\${{ item.id }}" }
`,
  'read-every-contact.yaml',
);
const catalog = await defaultCatalog();
const program = compile(p, catalog);
console.log(
  `sandbox: ${SIZE} deals, plan enterprise, operating budget ${LIMIT} s per method per 10 min, clock ${F}× (the window lasts ${(600 / F).toFixed(0)} real s)`,
);
const t0 = performance.now();
const plan = await planPipeline(p, { client, catalog, program });
const planS = (performance.now() - t0) / 1000;
const items = plan.cost.byStep.map((s) => [s.step, s.items] as const);
const before = estimateCost(program, catalog, { items: Object.fromEntries(items), plan: 'enterprise' });
const after = plan.cost;
const t1 = performance.now();
const run = await runPipeline(p, { client, catalog, program, mode: 'full' });
const actual = (performance.now() - t1) / 1000;
const err = (x: number) => `${x >= actual ? '+' : ''}${(((x - actual) / actual) * 100).toFixed(0)} %`;
console.log(
  `plan: ${planS.toFixed(1)} s (its reads spend the same budget the run needs); run ${run.status}, ${run.requests} requests`,
);
console.log(`  ${after.notes.join('\n  ')}`);
console.log('| estimate | seconds | vs actual |');
console.log('|---|---|---|');
console.log(`| before (request rate only) | ${before.seconds} | ${err(before.seconds)} |`);
console.log(
  `| after (operating outlook: spent budget, measured cost, sliding window) | ${after.seconds} | ${err(after.seconds)} |`,
);
console.log(`| actual run | ${actual.toFixed(1)} | |`);
await client.close();
await sb.close();
