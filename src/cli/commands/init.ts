import type { Command } from 'commander';

/**
 * Registers `b24flow init [dir]` (a starter folder: `.env.example`, `pipelines/hello.yaml` with the schema line, a
 * README) and `b24flow schema [--path]` (the pipeline schema of the installed package, or its path).
 */
export function register(program: Command): void {
  program
    .command('init')
    .description('Create a starter folder: .env.example, pipelines/hello.yaml (with the $schema line), README.md')
    .argument('[dir]', 'target folder (created when missing)', '.')
    .action(async (dir: string) => {
      const { initProject } = await import('../present/starter.js');
      const files = initProject(dir);
      process.stdout.write(`${files.map((f) => `created ${f}`).join('\n')}\n`);
    });
  program
    .command('schema')
    .description('Print the pipeline JSON Schema of the installed package (--path: its absolute path)')
    .option('--path', 'print the absolute path of schemas/pipeline.schema.json instead of its content')
    .action(async (o: { path?: boolean }) => {
      const [{ schemaPath }, { readFileSync }] = await Promise.all([
        import('../present/starter.js'),
        import('node:fs'),
      ]);
      process.stdout.write(o.path ? `${schemaPath()}\n` : readFileSync(schemaPath(), 'utf8'));
    });
}
