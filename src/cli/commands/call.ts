import type { Command } from 'commander';
import { InvalidInputError, RuntimeFailure } from '../../lib/failures.js';

/** Flags of `b24flow call`. */
interface CallFlags {
  params?: string;
  confirmWrite?: boolean;
  confirmDestructive?: boolean;
  packs: string;
  json?: boolean;
  idempotencyKey?: string;
  v3?: boolean;
}

/**
 * Registers `b24flow call <method> [--params JSON] [--confirm-write] [--confirm-destructive] [--packs core,...]
 * [--json]`: reads run directly; writes need `--confirm-write`, destructive methods `--confirm-destructive`; methods
 * outside the allowed packs are refused (risk and pack from the catalog). Prints the result as JSON on stdout
 * (`--json`: the whole `{result, total, next, time}` envelope). Exit 0 ok, 1 portal/runtime failure, 2 refused or
 * bad input.
 */
export function register(program: Command): void {
  program
    .command('call')
    .description('Call one Bitrix24 REST method (reads run; writes need --confirm-write)')
    .argument('<method>', 'REST method, e.g. crm.deal.list')
    .option('-p, --params <json>', 'parameters as a JSON object (or a JSON list for positional methods)')
    .option('--confirm-write', 'allow a method that changes data')
    .option('--confirm-destructive', 'allow a method that deletes or detaches data')
    .option('--packs <list>', 'allowed method packs, comma-separated ("all" = any catalogued method)', 'core')
    .option(
      '--idempotency-key <key>',
      'REST 3.0 Idempotency-Key (makes a write safe to retry); an error for a method without a REST 3.0 route',
    )
    .option(
      '--v3',
      'call through REST 3.0 (/rest/api/) with the params as given (default: REST 3.0 where the method has it)',
    )
    .option('--json', 'print the full answer envelope as JSON')
    .action(async (method: string, flags: CallFlags) => {
      let params: Record<string, unknown> | unknown[] = {};
      if (flags.params !== undefined) {
        try {
          params = JSON.parse(flags.params);
        } catch (err) {
          throw new InvalidInputError(`--params is not valid JSON: ${(err as Error).message}`, [
            {
              file: '<--params>',
              line: 1,
              col: 1,
              field: '',
              message: `not valid JSON: ${(err as Error).message}`,
              rule: 'json',
              severity: 'error',
            },
          ]);
        }
        if (params === null || typeof params !== 'object')
          throw new InvalidInputError('--params must be a JSON object or list');
      }
      if (!/^[A-Za-z][A-Za-z0-9_.]*$/.test(method)) throw new InvalidInputError(`not a method name: "${method}"`);
      const { methodInfo, catalogLookup } = await import('../../bitrix/catalogInfo.js');
      const info = await methodInfo(method, params);
      const catalog = await catalogLookup();
      if (method.toLowerCase() === 'batch') {
        // A raw batch is as risky as its worst command, and every command must be inside the packs.
        const cmd = (params as { cmd?: unknown }).cmd;
        const subs = cmd && typeof cmd === 'object' ? Object.values(cmd as Record<string, unknown>) : [];
        if (!subs.length) throw new InvalidInputError('batch needs --params {"cmd": {"key": "method?query"}}');
        const order = { read: 0, write: 1, destructive: 2 } as const;
        const { commandParams } = await import('../../catalog/index.js');
        for (const c of subs) {
          const one = commandParams(String(c));
          const sub = await methodInfo(one.method, one.params);
          if (order[sub.risk] > order[info.risk]) {
            info.risk = sub.risk;
            if (sub.because) info.because = sub.because;
            else delete info.because;
          }
          if (catalog && sub.pack && info.pack && sub.pack !== info.pack && !flags.packs.split(',').includes(sub.pack))
            info.pack = sub.pack;
        }
      }
      const packs = flags.packs
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (catalog) {
        if (!info.known)
          throw new InvalidInputError(
            `${method} is not in the method catalog; check the name with \`b24flow catalog search\``,
          );
        if (!packs.includes('all') && (!info.pack || !packs.includes(info.pack)))
          throw new InvalidInputError(
            `${method} belongs to pack "${info.pack ?? '(uncurated reference)'}", outside the allowed packs (${packs.join(', ')}); add --packs ${info.pack ?? 'all'}`,
          );
      } else if (info.risk !== 'read' && !packs.includes('all')) {
        throw new InvalidInputError(
          `the method catalog is unavailable, so the packs of ${method} cannot be checked; writes are refused (use --packs all to override)`,
        );
      } else {
        process.stderr.write('b24flow: method catalog unavailable; pack check skipped, risk guessed from the name\n');
      }
      // the call's effective risk: a "read" whose params make it write or delete needs that confirmation
      const why = info.because
        ? ` (${info.because.param}=${JSON.stringify(info.because.value)}${info.because.source === 'default' ? ', the default' : ''}: ${info.because.summary.en})`
        : '';
      if (info.risk === 'destructive' && !flags.confirmDestructive)
        throw new InvalidInputError(
          `${method} is destructive${why || ' (deletes or detaches data)'}; re-run with --confirm-destructive to allow it`,
        );
      if (info.risk === 'write' && !flags.confirmWrite && !flags.confirmDestructive)
        throw new InvalidInputError(`${method} changes data${why}; re-run with --confirm-write to allow it`);

      if (flags.idempotencyKey !== undefined && !flags.v3) {
        // the key exists only in REST 3.0: over REST 2 it would silently do nothing
        const { toV3Call } = await import('../../bitrix/restV3.js');
        if (!info.rest_v3 || !toV3Call(method, params))
          throw new InvalidInputError(
            `${method}${info.rest_v3 ? ' with these params' : ''} has no REST 3.0 route; the key would do nothing (use --v3 to send REST 3.0 params as given)`,
          );
      }
      const { connect } = await import('../compose.js');
      const { B24Error } = await import('../../bitrix/restErrors.js');
      const { redactDeep, redact } = await import('../../bitrix/redact.js');
      const conn = await connect();
      try {
        const res = await conn.client.call(method, params, {
          ...(flags.idempotencyKey ? { idempotencyKey: flags.idempotencyKey } : {}),
          ...(flags.v3 ? { version: 3 as const } : {}),
        });
        const out = flags.json ? res : res.result;
        process.stdout.write(`${JSON.stringify(redactDeep(out), null, 2)}\n`);
      } catch (err) {
        if (err instanceof B24Error) {
          if (flags.json) process.stdout.write(`${JSON.stringify({ error: err.toJSON() }, null, 2)}\n`);
          throw new RuntimeFailure(redact(err.message));
        }
        throw err;
      } finally {
        await conn.close();
      }
    });
}
