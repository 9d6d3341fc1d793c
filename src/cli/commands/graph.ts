import type { Command } from 'commander';
import { pipelineFile } from '../pipelineFiles.js';

/**
 * Registers `b24flow graph <file>`: the compiled program of a pipeline — steps with method and risk, data
 * dependencies, batch groups, recipes and sub-pipelines — as a Mermaid flowchart (default) or JSON.
 */
export function register(program: Command): void {
  program
    .command('graph')
    .description('Show the compiled program of a pipeline: steps, dependencies, batch groups (Mermaid or JSON)')
    .argument('<file>', 'pipeline file')
    .option('--format <format>', 'mermaid | json', 'mermaid')
    .action(async (file: string, opts: { format?: string }) => {
      const { runGraphCommand } = await import('../present/pipeline.js');
      await runGraphCommand(pipelineFile(file), opts);
    });
}
