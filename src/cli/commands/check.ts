import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow check` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('check')
    .description('Check pipelines statically (actionlint-style findings)')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`check` is not implemented yet');
    });
}
