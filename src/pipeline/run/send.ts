/**
 * How the runner talks to the portal: commands keyed by the runner, answers mapped back per key.
 */
import type { BatchCommand } from '../../bitrix/batch.js';
import { NetworkError } from '../../bitrix/restErrors.js';
import { encodeBatchParams } from '../batchStep.js';
import { chunked, containsBatchSyntax } from '../compile/batches.js';
import { hashOf } from '../load.js';
import type { Execution } from './execution.js';
import { errorInfo } from './results.js';

/**
 * Answer per command key: its result or its error; `lost` when the request went out and its answer did not come
 * back (a network error after sending): the portal may have run it.
 */
export type CallAnswers = Map<string, { result?: unknown; error?: { code?: string; message: string }; lost?: boolean }>;

/**
 * Sends commands: in batches of ≤ 50 (the one splitter, {@link chunked}), or as single calls when batching is off,
 * for a lone command, for commands whose params carry batch syntax, and when `single` is asked (REST 3.0 creates
 * with an `Idempotency-Key`, methods that cannot sit in a batch). `idempotencyKeys` go out only over REST 3.0
 * (`version: 3`, or a call the client routes over REST 3.0 by default; REST 2 ignores the header). Counts the requests on the execution.
 * A `batch` call (a `method: batch` step) goes out only with structured commands, each encoded by the client's
 * encoder (src/pipeline/batchStep.ts); one whose commands are text is answered `BATCH_COMMAND_REFUSED` unsent.
 * @returns per command key its result or its error (`NOT_RUN` when a batch skipped it)
 * @throws when the run is aborted during a single call; a batch's network error (its answer may be lost)
 */
/** Options of {@link sendCommands}. */
export interface SendOptions {
  single?: boolean;
  /** Per command key its `Idempotency-Key` (sent only over REST 3.0: `version: 3`, or the client's own routing). */
  idempotencyKeys?: Record<string, string>;
  /** 3: single calls over REST 3.0 (`/rest/api/`); default 2. */
  version?: 2 | 3;
  /**
   * Writes the client routes over REST 3.0: sent as REST 3.0 batches (≤ 50, one Idempotency-Key each, derived from
   * the commands' `idempotencyKeys`); what does not fit goes as single calls (with `single`) or REST 2 batches.
   */
  v3Batch?: boolean;
}

export async function sendCommands(
  ex: Execution,
  input: [string, BatchCommand][],
  opts: SendOptions = {},
): Promise<CallAnswers> {
  const out: CallAnswers = new Map();
  const cmds: [string, BatchCommand][] = [];
  for (const [k, c] of input) {
    if (c.method.toLowerCase() !== 'batch') {
      cmds.push([k, c]);
      continue;
    }
    try {
      cmds.push([k, { method: c.method, params: encodeBatchParams(c.params) }]);
    } catch (err) {
      out.set(k, { error: { code: 'BATCH_COMMAND_REFUSED', message: (err as Error).message } });
    }
  }
  // REST 3.0 writes: one REST 3.0 batch per ≤ 50 commands, keyed by its commands' keys (a resend of a lost answer is
  // replayed by the portal); commands without a REST 3.0 form, or a portal without REST 3.0, go the REST 2 way below
  if (opts.v3Batch && ex.o.client.batchV3 && ex.o.batching !== false) {
    const rest: [string, BatchCommand][] = [];
    for (const chunk of chunked(cmds.filter(([, c]) => !containsBatchSyntax(c.params)))) {
      const keys = chunk.map(([k]) => opts.idempotencyKeys?.[k] ?? k);
      const r =
        chunk.length > 1
          ? await ex.o.client.batchV3(chunk, {
              idempotencyKey: `b24flow-${hashOf(keys).slice(0, 32)}`,
              signal: ex.signal,
            })
          : undefined;
      if (!r) {
        rest.push(...chunk);
        continue;
      }
      ex.requests++;
      for (const [k] of chunk) {
        if (k in r.errors) out.set(k, { error: errorInfo(r.errors[k]) });
        else out.set(k, { result: r.results[k] });
      }
    }
    rest.push(...cmds.filter(([, c]) => containsBatchSyntax(c.params)));
    cmds.length = 0;
    cmds.push(...rest);
  }
  const batching = ex.o.batching !== false && !opts.single;
  const singles = batching ? cmds.filter(([, c]) => containsBatchSyntax(c.params)) : cmds;
  const batched = batching ? cmds.filter(([, c]) => !containsBatchSyntax(c.params)) : [];
  if (batched.length === 1) singles.push(batched.pop()!);
  for (const chunk of chunked(batched)) {
    // batch command keys allow only [A-Za-z0-9_.-]: our own short keys, mapped back to the work keys
    const rec: Record<string, BatchCommand> = {};
    const keyOf = new Map<string, string>();
    chunk.forEach(([k, c], j) => {
      rec[`c${j}`] = c;
      keyOf.set(k, `c${j}`);
    });
    const r = await ex.o.client.batch(rec, { halt: false, signal: ex.signal });
    ex.requests += r.requests ?? 1;
    for (const [k] of chunk) {
      const ck = keyOf.get(k)!;
      if (r.errors && ck in r.errors) out.set(k, { error: errorInfo(r.errors[ck]) });
      else if (r.results && ck in r.results) out.set(k, { result: r.results[ck] });
      else out.set(k, { error: { code: 'NOT_RUN', message: 'command did not run' } });
    }
  }
  for (const [k, c] of singles) {
    try {
      // a key goes with an explicit REST 3.0 call, or with a call the client routes over REST 3.0 by default
      const v3 = opts.version === 3 || ex.o.client.routeOf?.(c.method, c.params ?? {}) === 3;
      const key = v3 ? opts.idempotencyKeys?.[k] : undefined;
      const r = await ex.o.client.call(c.method, c.params, {
        signal: ex.signal,
        ...(opts.version === 3 ? { version: 3 as const } : {}),
        ...(key ? { idempotencyKey: key } : {}),
      });
      ex.requests++;
      out.set(k, { result: r.result });
    } catch (err) {
      ex.requests++;
      if (ex.signal?.aborted) throw err;
      out.set(k, { error: errorInfo(err), ...(err instanceof NetworkError ? { lost: true } : {}) });
    }
  }
  return out;
}
