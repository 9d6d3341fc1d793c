import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/failures.js';
import { pipelineFile } from '../pipelineFiles.js';

/** The output formats of `check --format`. */
const FORMATS = ['text', 'json', 'github', 'sarif'];

/**
 * Registers `b24flow check <file...>`: static verification of pipelines (schema, step graph, catalog, packs,
 * params, CEL types, auth, scopes, idempotency, confirmations) plus a cost estimate. Findings print as
 * `file:line:col: message [rule]`; exit 2 when any finding is an error. Outcomes are reused from the result cache
 * while the files, catalog and code are unchanged (src/cli/present/checkCache.ts); `--no-cache` skips it.
 * `--format github` prints GitHub Actions annotations, `--format sarif` a SARIF 2.1.0 log (src/cli/present/checkFormats.ts).
 */
export function register(program: Command): void {
  program
    .command('check')
    .description('Check pipelines statically (actionlint-style findings) and estimate their cost')
    .argument('<file...>', 'pipeline files')
    .option('--json', 'print findings and cost as JSON (same as --format json)')
    .option('--format <format>', 'text, json, github (workflow annotations) or sarif (SARIF 2.1.0)', 'text')
    .option('--items <n>', 'assumed rows per list/foreach for the cost estimate', '100')
    .option('--no-cache', 'neither read nor write the result cache')
    .action(async (args: string[], opts: { json?: boolean; format: string; items: string; cache: boolean }) => {
      const format = opts.json ? 'json' : opts.format;
      if (!FORMATS.includes(format))
        throw new InvalidInputError(`--format must be one of ${FORMATS.join(', ')}, got "${format}"`);
      const files = args.map((f) => pipelineFile(f));
      const items = Number(opts.items) || 100;
      const [{ openCheckCache }, { errorCount, formatCheck }] = await Promise.all([
        import('../present/checkCache.js'),
        import('../present/checkOutput.js'),
      ]);
      const cache = opts.cache ? openCheckCache(process.env, items) : undefined;
      let outcomes = cache?.lookup(files);
      if (!outcomes) {
        const { runCheckCommand } = await import('../present/pipeline.js');
        outcomes = await runCheckCommand(files, { items });
        cache?.store(outcomes);
      }
      const findings = outcomes.flatMap((o) => o.findings);
      if (format === 'github')
        process.stdout.write((await import('../present/checkFormats.js')).formatGithub(findings));
      else if (format === 'sarif') {
        const [{ formatSarif }, { rules }, { readFileSync }] = await Promise.all([
          import('../present/checkFormats.js'),
          import('../../pipeline/check/rules/registry.js'),
          import('node:fs'),
        ]);
        const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
          version: string;
        };
        process.stdout.write(formatSarif(findings, rules, { version }));
      } else process.stdout.write(formatCheck(outcomes, { json: format === 'json', items }));
      const errors = errorCount(outcomes);
      if (errors) throw new InvalidInputError(`${errors} error${errors === 1 ? '' : 's'} found`);
    });
}
