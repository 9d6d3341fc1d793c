import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/failures.js';

/**
 * Registers `b24flow serve [--pipelines DIR] [--port N] [--host H] [--sync-every S] [--max-attempts N] [--workers N]
 * [--public-url URL]`: loads every pipeline (refuses to start on an invalid one and names it), runs cron schedules,
 * the offline event sync and the online event endpoint, the install path of the OAuth application (`/bitrix/install`:
 * a verified install stores the portal's tokens and binds the pipelines' events there), the chat HTTP API when
 * available, `/healthz` and `/metrics`.
 * Without configuration it runs against the embedded sandbox portal. SIGTERM/SIGINT stop it gracefully (exit 0).
 */
export function register(program: Command): void {
  program
    .command('serve')
    .description('Run schedules, Bitrix24 events (offline queue + online endpoint) and the HTTP API')
    .option('--pipelines <dir>', 'directory of pipeline YAML files', './pipelines')
    .option('--port <n>', 'HTTP port (0 = any free port)', process.env.B24FLOW_PORT ?? '8787')
    .option('--host <host>', 'HTTP bind address', process.env.B24FLOW_HOST ?? '127.0.0.1')
    .option('--sync-every <s>', 'offline event sync interval in seconds (0 = only on ONOFFLINEEVENT)', '10')
    .option('--max-attempts <n>', 'attempts before an event goes to the dead-letter queue', '5')
    .option('--backoff <ms>', 'first retry delay in ms (doubles per attempt, max 60 s)', '1000')
    .option('--parallel <n>', 'events dispatched in parallel per offline batch', '8')
    .option('--workers <n>', 'pipeline runs this process takes at once from the shared queue (PostgreSQL)', '4')
    .option('--no-offline', 'do not run the offline event sync')
    .option('--public-url <url>', 'public URL the portal reaches this serve at (default B24FLOW_PUBLIC_URL)')
    .option('--json', 'print the ready line as JSON')
    .action(async (o: Record<string, any>) => {
      const int = (name: string, v: string, min: number) => {
        const n = Number(v);
        if (!Number.isInteger(n) || n < min)
          throw new InvalidInputError(`--${name} must be an integer ≥ ${min}, got "${v}"`);
        return n;
      };
      const port = int('port', o.port, 0);
      const syncEvery = Number(o.syncEvery);
      if (!Number.isFinite(syncEvery) || syncEvery < 0) throw new InvalidInputError(`--sync-every must be ≥ 0 seconds`);
      const maxAttempts = int('max-attempts', o.maxAttempts, 1);
      const backoff = int('backoff', o.backoff, 0);
      const parallel = int('parallel', o.parallel, 1);
      const workers = int('workers', o.workers, 1);
      const { serve } = await import('../serve.js');
      await serve({
        pipelinesDir: o.pipelines,
        port,
        host: o.host,
        syncEveryMs: Math.round(syncEvery * 1000),
        maxAttempts,
        backoffMs: backoff,
        parallel,
        workers,
        offline: o.offline !== false,
        json: !!o.json,
        ...(o.publicUrl ? { publicUrl: String(o.publicUrl) } : {}),
      });
    });
}
