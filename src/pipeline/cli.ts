/**
 * What the pipeline commands of the CLI do (check, plan, run, apply, resume, runs), separate from flag parsing
 * in src/cli/commands so they can be called and tested directly. Output strings are returned, not printed.
 */
import { type Finding, formatFinding, InvalidInputError } from '../lib/errors.js';
import { type CatalogView, defaultCatalog } from './catalog.js';
import { checkPipeline, type PortalFacts } from './check/index.js';
import { estimateCost } from './cost.js';
import { loadPipelineFile } from './load.js';

/** Portal facts for the checker when a portal is configured (webhook or OAuth env), else undefined. */
export async function portalFactsFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<PortalFacts | undefined> {
  const auth = env.BITRIX_WEBHOOK_URL ? 'webhook' : env.B24_CLIENT_ID && env.B24_CLIENT_SECRET ? 'oauth' : undefined;
  if (!auth) return undefined;
  const facts: PortalFacts = { auth };
  try {
    const { connect } = (await import('../bitrix/connect.js' as string)) as typeof import('./runtimeTypes.js');
    const conn = await connect({ env, audit: false });
    try {
      const r = await conn.client.call<string[]>('scope');
      if (Array.isArray(r.result)) facts.scopes = r.result;
    } finally {
      await conn.close();
    }
  } catch (err) {
    process.stderr.write(
      `b24flow: could not read the granted scopes (${(err as Error).message}); scope check skipped\n`,
    );
  }
  return facts;
}

/** Runs `check` over files. Returns the text to print and the number of errors. */
export async function runCheckCommand(
  files: string[],
  opts: { json?: boolean; items?: number; catalog?: CatalogView; portal?: PortalFacts | null } = {},
): Promise<{ errors: number; output: string; findings: Finding[] }> {
  const catalog = opts.catalog ?? (await defaultCatalog());
  const portal = opts.portal === null ? undefined : (opts.portal ?? (await portalFactsFromEnv()));
  const all: Finding[] = [];
  const costs: Record<string, unknown> = {};
  const lines: string[] = [];
  for (const file of files) {
    try {
      const p = await loadPipelineFile(file);
      const findings = checkPipeline(p, { catalog, portal });
      all.push(...findings);
      const cost = estimateCost(p, catalog, { plan: portal?.plan, defaultItems: opts.items });
      costs[file] = cost;
      for (const f of findings) lines.push(formatFinding(f));
      if (!findings.some((f) => f.severity === 'error'))
        lines.push(
          `${file}: ok — about ${cost.calls} calls in ${cost.requests} requests (${cost.requestsUnbatched} without batching), ~${cost.seconds} s, operating-budget risk ${cost.operatingRisk}${cost.assumed ? ` (assuming ${opts.items ?? 100} rows per list)` : ''}`,
        );
    } catch (err) {
      if (err instanceof InvalidInputError && err.findings.length) {
        all.push(...err.findings);
        for (const f of err.findings) lines.push(formatFinding(f));
      } else if (err instanceof InvalidInputError) {
        const f: Finding = { file, line: 1, col: 1, field: '', message: err.message, rule: 'load', severity: 'error' };
        all.push(f);
        lines.push(formatFinding(f));
      } else throw err;
    }
  }
  const errors = all.filter((f) => f.severity === 'error').length;
  const output = opts.json
    ? `${JSON.stringify({ findings: all, cost: costs }, null, 2)}\n`
    : lines.map((l) => `${l}\n`).join('');
  return { errors, output, findings: all };
}
