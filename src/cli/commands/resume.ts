import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow resume` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('resume')
    .description('Resume an interrupted run')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`resume` is not implemented yet');
    });
}
