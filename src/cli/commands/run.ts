import type { Command } from 'commander';
import { pipelineFile } from '../pipelineFiles.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/**
 * Registers `b24flow run <file>`: shadow (default) plans only; canary runs reads and safe creates; full runs
 * everything, writes need --confirm-write and destructive steps --confirm-destructive.
 */
export function register(program: Command): void {
  program
    .command('run')
    .description('Run a pipeline (shadow by default: plan only)')
    .argument('<file>', 'pipeline file')
    .option('--mode <mode>', 'shadow | canary | full', 'shadow')
    .option('--confirm-write', 'confirm the writes (full mode)')
    .option('--confirm-destructive', 'confirm destructive steps (full mode)')
    .option('--input <k=v>', 'pipeline input (repeatable)', collect, [])
    .option('--no-batching', 'send every call separately')
    .option('--json', 'print the run result as JSON')
    .option('--verbose', 'show step ids, methods and every write')
    .action(async (file: string, opts) => {
      const { runRunCommand } = await import('../present/pipeline.js');
      await runRunCommand(pipelineFile(file), opts);
    });
}
