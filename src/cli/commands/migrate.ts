import type { Command } from 'commander';

/** Registers `b24flow migrate`: the one-time import of a data directory's files into the store. */
export function register(program: Command): void {
  program
    .command('migrate')
    .description(
      'Import the files of a data directory (runs, plans, keys, ...) into the store, once; the files are left',
    )
    .option('--data-dir <dir>', 'the data directory whose files are imported; default B24FLOW_DATA_DIR or ./data')
    .option('--json', 'print the counts as JSON')
    .action(async (opts) => {
      const { runMigrateCommand } = await import('../present/store.js');
      await runMigrateCommand(opts);
    });
}
