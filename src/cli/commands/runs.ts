import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow runs` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('runs')
    .description('List runs from the journal')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`runs` is not implemented yet');
    });
}
