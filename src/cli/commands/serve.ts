import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow serve` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('serve')
    .description('Serve triggers, events and the HTTP API')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`serve` is not implemented yet');
    });
}
