import type { Command } from 'commander';

/** Registers `b24flow runs`: lists runs from the journal, newest first. */
export function register(program: Command): void {
  program
    .command('runs')
    .description('List pipeline runs from the journal')
    .option('--json', 'print as JSON')
    .option('--limit <n>', 'how many runs', '50')
    .action(async (opts) => {
      const { runRunsCommand } = await import('../present/pipeline.js');
      await runRunsCommand(opts);
    });
}
