import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow sandbox` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('sandbox')
    .description('Start the local sandbox Bitrix24 portal')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`sandbox` is not implemented yet');
    });
}
