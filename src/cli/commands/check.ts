import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/failures.js';

/**
 * Registers `b24flow check <file...>`: static verification of pipelines (schema, step graph, catalog, packs,
 * params, CEL types, auth, scopes, idempotency, confirmations) plus a cost estimate. Findings print as
 * `file:line:col: message [rule]`; exit 2 when any finding is an error.
 */
export function register(program: Command): void {
  program
    .command('check')
    .description('Check pipelines statically (actionlint-style findings) and estimate their cost')
    .argument('<file...>', 'pipeline files')
    .option('--json', 'print findings and cost as JSON')
    .option('--items <n>', 'assumed rows per list/foreach for the cost estimate', '100')
    .action(async (files: string[], opts: { json?: boolean; items: string }) => {
      const { runCheckCommand } = await import('../present/pipeline.js');
      const { errors, output } = await runCheckCommand(files, { json: !!opts.json, items: Number(opts.items) || 100 });
      process.stdout.write(output);
      if (errors) throw new InvalidInputError(`${errors} error${errors === 1 ? '' : 's'} found`);
    });
}
