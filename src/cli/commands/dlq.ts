import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow dlq` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('dlq')
    .description('Inspect and replay the dead-letter queue')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`dlq` is not implemented yet');
    });
}
