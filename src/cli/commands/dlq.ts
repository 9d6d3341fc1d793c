import type { Command } from 'commander';

/**
 * Registers `b24flow dlq list|show|replay|drop`: the dead-letter queue of events that failed every attempt
 * (in the store: SQLite in `$B24FLOW_DATA_DIR`, or PostgreSQL with `B24FLOW_DATABASE_URL`). `replay <id>|--all` runs the failed pipelines again and removes the entries that
 * succeed (exit 1 when some still fail); `drop <id>|--all` deletes entries.
 */
export function register(program: Command): void {
  const dlq = program.command('dlq').description('Inspect, replay and drop dead-letter queue entries');
  dlq
    .command('list')
    .description('List dead letters')
    .option('--json', 'machine output')
    .action(async (o: Record<string, any>) => {
      const { dlqList } = await import('../present/triggers.js');
      process.stdout.write(await dlqList(o));
    });
  dlq
    .command('show <id>')
    .description('Show one dead letter with its payload')
    .option('--json', 'machine output')
    .action(async (id: string, o: Record<string, any>) => {
      const { dlqShow } = await import('../present/triggers.js');
      process.stdout.write(await dlqShow(id, o));
    });
  dlq
    .command('replay [id]')
    .description('Run the failed pipelines again for one entry (or --all); entries that succeed are removed')
    .option('--all', 'replay every entry')
    .option('--pipelines <dir>', 'directory of pipeline YAML files', './pipelines')
    .option('--json', 'machine output')
    .action(async (id: string | undefined, o: Record<string, any>) => {
      const { dlqReplay } = await import('../present/triggers.js');
      process.stdout.write(await dlqReplay(id, o as { pipelines: string; all?: boolean; json?: boolean }));
    });
  dlq
    .command('drop [id]')
    .description('Delete one entry (or --all)')
    .option('--all', 'drop every entry')
    .option('--json', 'machine output')
    .action(async (id: string | undefined, o: Record<string, any>) => {
      const { dlqDrop } = await import('../present/triggers.js');
      process.stdout.write(await dlqDrop(id, o));
    });
}
