import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/failures.js';

/**
 * Registers `b24flow console`: the web console on this machine, over the store and the configured portal, without
 * the trigger service (no schedules, no events; dead letters are listed and dropped, replayed by `serve`'s console).
 * `--as <Bitrix24 user id>` prints a one-time sign-in link for that user; otherwise sign in with an API key of
 * `HTTP_API_TOKENS`. `serve` mounts the same console at `/console`.
 */
export function register(program: Command): void {
  program
    .command('console')
    .description('Run the web console locally (runs, approvals, dead letters, portal health)')
    .option('--pipelines <dir>', 'directory of pipeline YAML files', './pipelines')
    .option('--port <n>', 'local port', '8090')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--as <bitrix-user-id>', 'print a one-time sign-in link for this Bitrix24 user')
    .action(async (o: { pipelines: string; port: string; host: string; as?: string }) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidInputError('--port must be 0..65535');
      if (o.as !== undefined && !/^\d+$/.test(o.as)) throw new InvalidInputError('--as must be a Bitrix24 user id');
      const { readSettings, connectPortal } = await import('../compose.js');
      const { openDataStore, closeDataStore } = await import('../dataStore.js');
      const { storeRunSettings } = await import('../runSettings.js');
      const { openTriggerStores } = await import('../triggerStores.js');
      const { loadPipelinesDir } = await import('../../triggers/setup.js');
      const { mountConsole } = await import('../consoleMount.js');
      const { SqlConsoleSessions } = await import('../../adapters/console/sessions.js');
      const { startHttpServer } = await import('../../lib/http.js');
      const settings = readSettings();
      const store = await openDataStore(settings);
      const conn = await connectPortal();
      const stores = await openTriggerStores(settings);
      const pipelines = await loadPipelinesDir(o.pipelines);
      const routes = await mountConsole({
        store,
        env: settings.env,
        runOptions: await storeRunSettings(settings),
        client: conn.client,
        pipelines: () => pipelines,
        deadLetters: stores.deadLetters,
      });
      const srv = await startHttpServer({ routes, port, host: o.host });
      const link = o.as ? `${srv.url}/console/link/${await new SqlConsoleSessions(store).issueLink(o.as)}` : undefined;
      process.stdout.write(
        `b24flow console: ${srv.url}/console${link ? `\nsign in as Bitrix24 user ${o.as} (once, 10 min): ${link}` : ' — sign in with an API key (HTTP_API_TOKENS)'}\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await srv.close();
      await conn.close();
      await closeDataStore();
    });
}
