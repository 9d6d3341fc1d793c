import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/failures.js';
import { pipelineFile } from '../pipelineFiles.js';

/**
 * Registers `b24flow check <file...>`: static verification of pipelines (schema, step graph, catalog, packs,
 * params, CEL types, auth, scopes, idempotency, confirmations) plus a cost estimate. Findings print as
 * `file:line:col: message [rule]`; exit 2 when any finding is an error. Outcomes are reused from the result cache
 * while the files, catalog and code are unchanged (src/cli/present/checkCache.ts); `--no-cache` skips it.
 */
export function register(program: Command): void {
  program
    .command('check')
    .description('Check pipelines statically (actionlint-style findings) and estimate their cost')
    .argument('<file...>', 'pipeline files')
    .option('--json', 'print findings and cost as JSON')
    .option('--items <n>', 'assumed rows per list/foreach for the cost estimate', '100')
    .option('--no-cache', 'neither read nor write the result cache')
    .action(async (args: string[], opts: { json?: boolean; items: string; cache: boolean }) => {
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
      process.stdout.write(formatCheck(outcomes, { json: !!opts.json, items }));
      const errors = errorCount(outcomes);
      if (errors) throw new InvalidInputError(`${errors} error${errors === 1 ? '' : 's'} found`);
    });
}
