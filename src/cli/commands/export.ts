import type { Command } from 'commander';
import { InvalidInputError, RuntimeFailure } from '../../lib/failures.js';
import { jsonText } from '../present/jsonOut.js';

/** Flags of `b24flow export`. */
interface ExportFlags {
  filter?: string;
  select?: string;
  out: string;
  params?: string;
  parallel?: string;
  json?: boolean;
}

/**
 * Registers `b24flow export <list-method> [--filter JSON] [--select F,...] --out FILE.jsonl`: every row of a list
 * method, one JSON object per line, by the fast keyset export (50 pages per batch, parallel ID windows). The file is
 * written to a temporary sibling and renamed at the end, so a failed export never leaves half a file. A progress bar
 * runs on stderr when it is a TTY; the one-line summary (rows, requests, seconds, rows/s) goes to stdout.
 */
export function register(program: Command): void {
  program
    .command('export')
    .description('Export every row of a list method to JSONL (fast keyset export)')
    .argument('<method>', 'list method, e.g. crm.deal.list')
    .requiredOption('-o, --out <file>', 'output file (.jsonl)')
    .option('--filter <json>', 'filter as a JSON object, e.g. {"STAGE_ID":"WON"}')
    .option('--select <fields>', 'fields to export, comma-separated')
    .option('--params <json>', 'other method parameters as a JSON object (e.g. {"entityTypeId":2})')
    .option('--parallel <n>', 'ID windows in flight (default 4)')
    .option('--json', 'print the summary as JSON')
    .action(async (method: string, flags: ExportFlags) => {
      const parseJson = (flag: string, text: string | undefined): Record<string, unknown> | undefined => {
        if (text === undefined) return undefined;
        let v: unknown;
        try {
          v = JSON.parse(text);
        } catch (err) {
          throw new InvalidInputError(`${flag} is not valid JSON: ${(err as Error).message}`);
        }
        if (!v || typeof v !== 'object' || Array.isArray(v))
          throw new InvalidInputError(`${flag} must be a JSON object`);
        return v as Record<string, unknown>;
      };
      const filter = parseJson('--filter', flags.filter);
      const extra = parseJson('--params', flags.params) ?? {};
      const select = flags.select
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const parallel = flags.parallel === undefined ? 4 : Number(flags.parallel);
      if (!Number.isInteger(parallel) || parallel < 1 || parallel > 32)
        throw new InvalidInputError('--parallel must be an integer 1..32');
      const { heuristicRisk, methodInfo } = await import('../../bitrix/catalogInfo.js');
      const info = await methodInfo(method);
      if (
        info.risk !== 'read' ||
        heuristicRisk(method) !== 'read' ||
        !/\.(list|getlist|get)$|^user\.get$/i.test(method)
      )
        throw new InvalidInputError(`${method} is not a list method (expected e.g. crm.deal.list)`);

      const { rename, unlink, open } = await import('node:fs/promises');
      const { mkdirParents } = await import('../../lib/atomic.js');
      const { dirname } = await import('node:path');
      const { connect, loadEnv, waitNoticesFromEnv } = await import('../compose.js');
      const { B24Error } = await import('../../bitrix/restErrors.js');
      const { redact } = await import('../../bitrix/redact.js');

      // the output is opened before anything is read from the portal: an unwritable path is a clean error at once
      const tmp = `${flags.out}.${process.pid}.tmp`;
      let fh: Awaited<ReturnType<typeof open>>;
      try {
        await mkdirParents(dirname(flags.out));
        fh = await open(tmp, 'wx');
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        throw new InvalidInputError(`cannot write --out ${flags.out}: ${e.code ?? e.message}`);
      }
      const stream = fh.createWriteStream({ encoding: 'utf8' });
      let streamError: Error | undefined;
      stream.on('error', (err) => {
        streamError = err;
      });
      const onWait = await waitNoticesFromEnv(loadEnv(process.env));
      const conn = await connect({ limiter: { onWait } }).catch(async (err) => {
        stream.destroy();
        await unlink(tmp).catch(() => {});
        throw err;
      });
      const tty = process.stderr.isTTY;
      let bar: any;
      if (tty) {
        const cliProgress = await import('cli-progress');
        bar = new cliProgress.SingleBar(
          { format: 'export |{bar}| {percentage}% | {rows} rows | {requests} req', stream: process.stderr },
          cliProgress.Presets.shades_classic,
        );
        bar.start(100, 0, { rows: 0, requests: 0 });
      }
      const started = performance.now();
      const reqBefore = conn.client.stats().requests;
      let rows = 0;
      try {
        const params = { ...extra, ...(filter ? { filter } : {}), ...(select?.length ? { select } : {}) };
        for await (const page of conn.client.exportAll(method, params, {
          parallel,
          onProgress: (p) => {
            if (!bar) return;
            const span = p.maxId !== undefined && p.minId !== undefined ? p.maxId - p.minId + 1 : 0;
            const pct = span > 0 && p.covered !== undefined ? Math.min(100, Math.round((p.covered / span) * 100)) : 0;
            bar.update(pct, { rows: p.rows, requests: p.requests });
          },
        })) {
          let chunk = '';
          for (const row of page) chunk += `${JSON.stringify(row)}\n`; // portal rows, verbatim
          rows += page.length;
          if (streamError) throw streamError;
          if (!stream.write(chunk))
            await new Promise<void>((resolve, reject) => {
              stream.once('drain', () => resolve());
              stream.once('error', reject);
            });
        }
        await new Promise<void>((resolve, reject) =>
          stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
        );
        await rename(tmp, flags.out);
      } catch (err) {
        stream.destroy();
        await unlink(tmp).catch(() => {});
        bar?.stop();
        await conn.close();
        if (err instanceof B24Error) throw new RuntimeFailure(redact(err.message));
        const code = (err as NodeJS.ErrnoException).code;
        if (code && err === streamError) throw new RuntimeFailure(`cannot write --out ${flags.out}: ${code}`);
        throw err;
      }
      bar?.update(100);
      bar?.stop();
      const seconds = (performance.now() - started) / 1000;
      const requests = conn.client.stats().requests - reqBefore;
      await conn.close();
      const rate = seconds > 0 ? rows / seconds : rows;
      if (flags.json)
        process.stdout.write(
          jsonText(
            {
              method,
              out: flags.out,
              rows,
              requests,
              seconds: Number(seconds.toFixed(3)),
              rowsPerSecond: Math.round(rate),
            },
            0,
          ),
        );
      else
        process.stdout.write(
          `exported ${rows} rows of ${method} to ${flags.out}: ${requests} requests, ${seconds.toFixed(2)} s, ${Math.round(rate)} rows/s\n`,
        );
    });
}
