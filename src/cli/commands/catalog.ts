import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow catalog` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('catalog')
    .description('Inspect and validate the method catalog')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`catalog` is not implemented yet');
    });
}
