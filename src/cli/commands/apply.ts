import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow apply` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('apply')
    .description('Apply a stored plan by id (re-reads and refuses when the data drifted)')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`apply` is not implemented yet');
    });
}
