/**
 * The sandbox hint `serve` prints once at start on the embedded sandbox (plain text on stderr, outside the JSON
 * service log: it carries the sandbox's own credentials on purpose, which the log's redaction would mask).
 */
import type { AppConnection } from './compose.js';

/**
 * What a newcomer needs to try events on the embedded sandbox (stderr, once at start): its URL and directory, the
 * webhook URL to reach it from other tools, its application token, and a command that creates a deal there. These
 * are the sandbox's own credentials, printed on purpose, here only and unredacted; a real portal's never are.
 */
export function sandboxHint(
  conn: AppConnection,
  env: NodeJS.ProcessEnv,
  pipelinesDir: string,
  events: string[],
): string {
  const sb = conn.sandbox!;
  // the commands must find the same sandbox: same data directory (and sandbox directory when one is named)
  const prefix =
    (env.B24FLOW_DATA_DIR ? `B24FLOW_DATA_DIR=${shellQuote(env.B24FLOW_DATA_DIR)} ` : '') +
    (env.B24FLOW_SANDBOX_DIR ? `B24FLOW_SANDBOX_DIR=${shellQuote(env.B24FLOW_SANDBOX_DIR)} ` : '');
  const lines = [
    `b24flow serve: embedded sandbox portal at ${sb.baseUrl} (data in ${conn.sandboxDir ?? '?'}; b24flow commands with no portal configured and the same data directory use it too)`,
    `  webhook URL (use as BITRIX_WEBHOOK_URL in other tools): ${sb.webhookUrl}`,
    `  application token of its app (the sandbox's own, not a real secret; events carry it): ${sb.oauthApp.applicationToken}`,
    ...(events.length
      ? [
          `  to see events flow (${events.join(', ')}), bind them once from another terminal, then create a deal (serve picks it up within --sync-every seconds):`,
          `    ${prefix}b24flow events bind --pipelines ${shellQuote(pipelinesDir)}`,
          `    ${prefix}b24flow call crm.deal.add --confirm-write -p '{"fields":{"TITLE":"Sandbox deal"}}'`,
        ]
      : [
          `  create a deal there: ${prefix}b24flow call crm.deal.add --confirm-write -p '{"fields":{"TITLE":"Sandbox deal"}}'`,
        ]),
  ];
  return `${lines.join('\n')}\n`;
}

/** A value for a POSIX shell command line: bare when it is plain, else single-quoted. */
function shellQuote(v: string): string {
  return /^[\w./:@%+=,-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}
