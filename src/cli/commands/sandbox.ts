import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/failures.js';

const PLANS = ['standard', 'enterprise', 'unlimited'];

function parseSize(v: string): 'small' | 'medium' | 'large' | number {
  if (v === 'small' || v === 'medium' || v === 'large') return v;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) {
    throw new InvalidInputError(`--size must be small, medium, large or a number of deals (got "${v}")`);
  }
  return n;
}

function parseNumber(flag: string, v: string, min = 0): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new InvalidInputError(`${flag} must be a number >= ${min} (got "${v}")`);
  return n;
}

/**
 * Registers `b24flow sandbox`: starts the local sandbox portal, prints `BITRIX_WEBHOOK_URL=<url>` (and with
 * --tls `SANDBOX_CA_FILE=<path>`) on stdout when ready, logs to stderr, runs until SIGINT/SIGTERM.
 */
export function register(program: Command): void {
  program
    .command('sandbox')
    .description('Start the local sandbox Bitrix24 portal (prints BITRIX_WEBHOOK_URL=... when ready)')
    .option('--port <n>', 'port to listen on (0 = a free port)', '0')
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--seed <n>', 'data seed', '1')
    .option('--size <size>', 'small (200 deals), medium (10,000), large (100,000) or a number of deals', 'small')
    .option('--plan <plan>', 'rate-limit plan: standard (2/s, burst 50), enterprise (5/s, 250), unlimited', 'standard')
    .option('--operating-limit <seconds>', 'operating budget per method per 10 minutes (0 = off)', '480')
    .option('--clock-factor <x>', 'sandbox clock speed-up', '1')
    .option('--data <dir>', 'persist the portal in this directory')
    .option('--tls', 'serve HTTPS with a self-signed certificate')
    .option('--quiet', 'no log lines on stderr')
    .option('--no-rest-v3', 'act as a portal without REST 3.0 (/rest/api/ answers 404 ERROR_METHOD_NOT_FOUND)')
    .action(async (o) => {
      if (!PLANS.includes(o.plan))
        throw new InvalidInputError(`--plan must be one of ${PLANS.join(', ')} (got "${o.plan}")`);
      const port = parseNumber('--port', o.port);
      if (!Number.isInteger(port) || port > 65535)
        throw new InvalidInputError(`--port must be 0..65535 (got "${o.port}")`);
      const t0 = performance.now();
      const { startSandbox, dealsFor } = await import('../../sandbox/index.js');
      const size = parseSize(o.size);
      const sb = await startSandbox({
        port,
        host: o.host,
        seed: parseNumber('--seed', o.seed),
        size,
        plan: o.plan,
        operatingLimit: parseNumber('--operating-limit', o.operatingLimit),
        clockFactor: parseNumber('--clock-factor', o.clockFactor, 0.001),
        dataDir: o.data,
        tls: Boolean(o.tls),
        quiet: Boolean(o.quiet),
        ...(o.restV3 === false ? { restV3: false } : {}),
      });
      process.stdout.write(`BITRIX_WEBHOOK_URL=${sb.webhookUrl}\n`);
      if (sb.caFile) process.stdout.write(`SANDBOX_CA_FILE=${sb.caFile}\n`);
      if (!o.quiet) {
        const ms = Math.round(performance.now() - t0);
        process.stderr.write(
          `sandbox: ${dealsFor(size)} deals, plan ${o.plan}, operating limit ${o.operatingLimit} s, ready in ${ms} ms at ${sb.baseUrl}` +
            (o.data ? `, data in ${o.data}` : ', in memory') +
            '\n' +
            `sandbox: OAuth app client_id ${sb.oauthApp.clientId} (secret not shown); stop with Ctrl+C\n`,
        );
      }
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await sb.close();
      if (!o.quiet) process.stderr.write('sandbox: stopped\n');
    });
}
