import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow chat` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('chat')
    .description('Send one chat message to the planner')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`chat` is not implemented yet');
    });
}
