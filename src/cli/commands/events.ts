import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow events` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('events')
    .description('Bind offline event handlers for the triggers of the pipelines')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`events` is not implemented yet');
    });
}
