import type { Command } from 'commander';

/** Registers `b24flow resume <run-id>`: continues a killed run without repeating a completed write. */
export function register(program: Command): void {
  program
    .command('resume')
    .description('Continue a run that was killed or failed, without repeating completed writes')
    .argument('<run-id>', 'id from `b24flow runs`')
    .option('--json', 'print the run result as JSON')
    .option('--verbose', 'show step ids and methods')
    .action(async (runId: string, opts) => {
      const { runResumeCommand } = await import('../present/pipeline.js');
      await runResumeCommand(runId, opts);
    });
}
