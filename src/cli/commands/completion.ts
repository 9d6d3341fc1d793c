import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/failures.js';

/** Registers `b24flow completion bash|zsh|fish`: prints a completion script built from the command tree. */
export function register(program: Command): void {
  program
    .command('completion')
    .description('Print a shell completion script: eval "$(b24flow completion bash)"; zsh alike; fish: | source')
    .argument('<shell>', 'bash, zsh or fish')
    .action(async (shell: string) => {
      if (shell !== 'bash' && shell !== 'zsh' && shell !== 'fish')
        throw new InvalidInputError(`completion: shell must be bash, zsh or fish, got "${shell}"`);
      const { completionScript } = await import('../present/completion.js');
      process.stdout.write(completionScript(program, shell));
    });
}
