import type { Command } from 'commander';
import { pipelineFile } from '../pipelineFiles.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Registers `b24flow plan <file>`: runs the reads, resolves every write, prints and stores the plan (TTL 30 min). */
export function register(program: Command): void {
  program
    .command('plan')
    .description('Plan a pipeline: run the reads, resolve every write, show diffs, risk and cost; store the plan')
    .argument('<file>', 'pipeline file')
    .option('--input <k=v>', 'pipeline input (repeatable)', collect, [])
    .option('--no-batching', 'send every call separately')
    .option('--json', 'print the plan as JSON')
    .option('--verbose', 'show every write with method and params')
    .action(async (file: string, opts) => {
      const { runPlanCommand } = await import('../present/pipeline.js');
      await runPlanCommand(pipelineFile(file), opts);
    });
}
