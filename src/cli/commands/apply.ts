import type { Command } from 'commander';

/** Registers `b24flow apply <plan-id>`: re-reads, refuses on drift, applies the stored plan once. */
export function register(program: Command): void {
  program
    .command('apply')
    .description('Apply a stored plan once (re-reads first and refuses when the data drifted)')
    .argument('<plan-id>', 'id printed by `b24flow plan`')
    .option('--confirm-write', 'confirm the writes')
    .option('--confirm-destructive', 'confirm destructive writes')
    .option('--json', 'print the run result as JSON')
    .option('--verbose', 'show step ids and methods')
    .action(async (planId: string, opts) => {
      const { runApplyCommand } = await import('../present/pipeline.js');
      await runApplyCommand(planId, opts);
    });
}
