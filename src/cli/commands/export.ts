import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow export` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('export')
    .description('Export every row of a list method to JSONL')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`export` is not implemented yet');
    });
}
