import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow plan` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('plan')
    .description('Show the plan of a pipeline run')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`plan` is not implemented yet');
    });
}
