import type { Command } from 'commander';

/** Registers `b24flow gc`: deletes old finished runs, old keys and used or expired plans from the store. */
export function register(program: Command): void {
  program
    .command('gc')
    .description(
      'Delete finished runs older than B24FLOW_RETENTION_DAYS (30), keys older than B24FLOW_KEYS_RETENTION_DAYS (30), used or expired plans',
    )
    .option('--json', 'print the counts as JSON')
    .action(async (opts) => {
      const { runGcCommand } = await import('../present/store.js');
      await runGcCommand(opts);
    });
}
