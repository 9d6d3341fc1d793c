import type { Command } from 'commander';

/**
 * Registers `b24flow pipelines save|list|show|versions|diff|export|disable|enable`: pipelines saved in the store by name,
 * each save a new version (src/pipeline/saved.ts). `save` checks the file first (every checker rule; errors refuse
 * the save). `serve` runs the enabled saved pipelines beside its folder's.
 */
export function register(program: Command): void {
  const pl = program.command('pipelines').description('Save pipelines in the store, list their versions, diff them');
  pl.command('save <file>')
    .description('Save a pipeline file as the next version of its name (checked first)')
    .option('--author <who>', 'who saves it (default cli)')
    .action(async (file: string, o: { author?: string }) => {
      const { pipelinesSave } = await import('../present/savedPipelines.js');
      await pipelinesSave(file, o);
    });
  pl.command('list')
    .description('Saved pipelines: the latest version of each')
    .option('--json', 'machine output')
    .action(async (o: { json?: boolean }) => {
      const { pipelinesList } = await import('../present/savedPipelines.js');
      await pipelinesList(o);
    });
  pl.command('show <name> [version]')
    .description('Print a saved pipeline (the latest version, or the version given)')
    .action(async (name: string, version?: string) => {
      const { pipelinesShow } = await import('../present/savedPipelines.js');
      await pipelinesShow(name, version);
    });
  pl.command('versions <name>')
    .description('Every version of a saved pipeline')
    .action(async (name: string) => {
      const { pipelinesVersions } = await import('../present/savedPipelines.js');
      await pipelinesVersions(name);
    });
  pl.command('diff <name> [from] [to]')
    .description('A unified diff between two versions (default: the one before the latest, and the latest)')
    .action(async (name: string, from?: string, to?: string) => {
      const { pipelinesDiff } = await import('../present/savedPipelines.js');
      await pipelinesDiff(name, from, to);
    });
  pl.command('export <name> [version]')
    .description('Write a saved pipeline to <dir>/<name>.yaml (the latest version, or the version given)')
    .option('--dir <dir>', 'the pipelines folder to write into', 'pipelines')
    .option('--force', 'replace a file that exists')
    .action(async (name: string, version: string | undefined, o: { dir: string; force?: boolean }) => {
      const { pipelinesExport } = await import('../present/savedPipelines.js');
      await pipelinesExport(name, version, o);
    });
  for (const [cmd, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const)
    pl.command(`${cmd} <name>`)
      .description(disabled ? 'Stop running a saved pipeline (serve, run)' : 'Run a disabled saved pipeline again')
      .action(async (name: string) => {
        const { pipelinesDisable } = await import('../present/savedPipelines.js');
        await pipelinesDisable(name, disabled);
      });
}
