import type { Command } from 'commander';

/** Registers `b24flow runs` (runs from the store, newest first) and `b24flow runs show <run-id>`. */
export function register(program: Command): void {
  const runs = program
    .command('runs')
    .description('List pipeline runs from the store, newest first')
    .option('--json', 'print as JSON')
    .option('--limit <n>', 'how many runs', '50')
    .option('--pipeline <name>', 'only runs of this pipeline')
    .option('--status <status>', 'only runs with this status (completed, failed, partial, interrupted, ...)')
    .action(async (opts) => {
      const { runRunsCommand } = await import('../present/runs.js');
      await runRunsCommand(opts);
    });
  runs
    .command('show <run-id>')
    .description('Show one run: its steps and its writes')
    .option('--json', 'print as JSON')
    .action(async (runId: string, opts) => {
      const { runRunShowCommand } = await import('../present/runs.js');
      // `runs show <id> --json`: commander may hand the flag to the parent command (it declares --json too)
      await runRunShowCommand(runId, { json: !!(opts.json || runs.opts().json) });
    });
}
