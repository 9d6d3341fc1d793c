import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow bot` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('bot')
    .description('Run the Telegram bot (grammY, long polling)')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`bot` is not implemented yet');
    });
}
