import type { Command } from 'commander';

/**
 * Registers `b24flow app [--public-url URL] [--no-events] [--json]`: the URLs to paste into the portal's
 * local-application form (handler path, initial installation path; from `--public-url` or `B24FLOW_PUBLIC_URL`) and
 * the portals that installed the application (member_id, domain, token expiry, events bound — asked of each portal
 * with `event.get` unless `--no-events`). Prints no secret.
 */
export function register(program: Command): void {
  program
    .command('app')
    .description("The URLs for the portal's local-application form, and the portals that installed the application")
    .option('--public-url <url>', 'the public URL of `serve` (default B24FLOW_PUBLIC_URL)')
    .option('--no-events', 'do not ask each portal which events are bound (event.get)')
    .option('--json', 'machine output')
    .action(async (o: Record<string, any>) => {
      const { appCommand } = await import('../present/app.js');
      process.stdout.write(
        await appCommand({
          ...(o.publicUrl ? { publicUrl: String(o.publicUrl) } : {}),
          events: o.events !== false,
          json: !!o.json,
        }),
      );
    });
}
