import type { Command } from 'commander';

/**
 * Registers `b24flow events bind [--pipelines DIR] [--handler URL] [--json]` (event.bind with `event_type=offline`
 * for every event the pipelines declare, plus ONOFFLINEEVENT to `--handler` when given) and `b24flow events list`
 * (event.get). Both need application auth; with a webhook they explain WRONG_AUTH_TYPE and how to set up an app.
 * `b24flow events pending [--limit N] [--json]` lists accepted online events not settled yet (the intake in the
 * store), with the worker holding each one.
 */
export function register(program: Command): void {
  const events = program.command('events').description('Bitrix24 event handlers for the triggers of the pipelines');
  events
    .command('bind')
    .description('Register offline handlers (event.bind event_type=offline) for the events the pipelines declare')
    .option('--pipelines <dir>', 'directory of pipeline YAML files', './pipelines')
    .option('--handler <url>', 'public URL of `serve` …/bitrix/events: also bind ONOFFLINEEVENT there')
    .option('--min-timeout <s>', 'ONOFFLINEEVENT throttle in seconds', '1')
    .option('--json', 'machine output')
    .action(async (o: Record<string, any>) => {
      const { bindCommand } = await import('../present/triggers.js');
      process.stdout.write(await bindCommand(o as { pipelines: string }));
    });
  events
    .command('list')
    .description('Handlers bound on the portal (event.get)')
    .option('--json', 'machine output')
    .action(async (o: Record<string, any>) => {
      const { listBindingsCommand } = await import('../present/triggers.js');
      process.stdout.write(await listBindingsCommand(o));
    });
  events
    .command('pending')
    .description('Accepted online events not processed yet (the intake), with attempts and the worker holding each')
    .option('--limit <n>', 'list at most n events', '100')
    .option('--json', 'machine output')
    .action(async (o: Record<string, any>) => {
      const { pendingEventsCommand } = await import('../present/triggers.js');
      process.stdout.write(await pendingEventsCommand(o));
    });
}
