import type { Command } from 'commander';
import { RuntimeFailure } from '../../lib/errors.js';

/** Registers `b24flow run` (not implemented yet). */
export function register(program: Command): void {
  program
    .command('run')
    .description('Run a pipeline')
    .allowUnknownOption()
    .action(() => {
      throw new RuntimeFailure('`run` is not implemented yet');
    });
}
