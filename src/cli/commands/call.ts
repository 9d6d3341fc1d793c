import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow call` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('call')
    .description('Call one Bitrix24 REST method')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`call` is not implemented yet');
    });
}
