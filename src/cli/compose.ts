/**
 * The composition root: the one place that turns configuration (environment, `.env`, flags) into objects — the
 * portal client (a configured portal, or the embedded sandbox when none is configured), the catalog view, stores,
 * runner, triggers and adapters — and hands them down. Libraries under src/ never read `process.env` nor start the
 * sandbox themselves.
 */
import { type Connection, type ConnectOptions, connect, loadEnv } from '../bitrix/connect.js';

export type { Connection, ConnectOptions };
export { loadEnv };

/**
 * Connects to the configured portal, or starts the embedded sandbox portal when none is configured (said on stderr).
 *
 * @param opts connection options (environment, audit path, limiter overrides, sandbox options)
 * @returns the connection; `close()` ends the client and the sandbox it started
 * @throws InvalidInputError when the configuration is malformed (e.g. a bad `BITRIX_WEBHOOK_URL`)
 */
export async function connectPortal(opts: ConnectOptions = {}): Promise<Connection> {
  return connect({ sandbox: { size: 'small', quiet: true }, ...opts });
}
