/**
 * The calls of a method step, with the journal around every write: each work item has a key (`idempotency_key`,
 * else the item index); before a request the journal records the intent, after it the outcome. Done keys (this
 * run's journal, or the idempotency store's cache) are skipped; uncertain writes (an intent without outcome) and,
 * for keyed steps, keys the cache does not know are reconciled with the portal per the method's `reconcile`
 * strategy (../reconcile.ts) before anything is sent; a write whose answer is lost leaves the step `uncertain`.
 * With a shared idempotency store, keyed writes are claimed first: a key another running run holds is waited for
 * (after this run has sent its own), so the same keyed pipeline in two processes writes each key once.
 * Chunks of the compiled size go out `concurrency` at a time, with `retry` and the step's `timeout`.
 */

import { NetworkError } from '../../../bitrix/restErrors.js';
import { RuntimeFailure } from '../../../lib/failures.js';
import { chunked } from '../../compile/batches.js';
import type { StepRecord, WriteEntry } from '../../journal.js';
import type { Step } from '../../load.js';
import type { StepMethod } from '../../modes.js';
import type { Execution } from '../execution.js';
import {
  findExisting,
  findsByRead,
  headerKeyOf,
  markerOf,
  reconcileOf,
  uncertainMessage,
  v3KeyOf,
  withMarker,
} from '../reconcile.js';
import { compactResult, errorInfo, sleep } from '../results.js';
import type { CallAnswers } from '../send.js';

/** How often a run waiting on a key another run holds asks the store again, ms. */
const HELD_POLL_MS = 200;

/** One call of a step: the item, its key and resolved params (`pending` when they could not be resolved). */
export interface Work {
  index: number;
  item?: unknown;
  key: string;
  params: unknown;
  pending: boolean;
}

/** Executes calls (reads or writes) for work items with journaling, batching, retries and timeout. */
export async function runCalls(
  ex: Execution,
  s: Step,
  m: StepMethod,
  works: Work[],
  timeout: number | undefined,
  t0: number,
): Promise<CallAnswers> {
  const isWrite = m.risk !== 'read';
  const out: CallAnswers = new Map();
  const stepKey = (w: Work) => `${ex.prefix}${s.id}#${w.key}`;
  let todo: Work[] = [];
  let existing = 0;
  // this run's own writes from an earlier attempt (journal `done`, or an uncertain one found on the portal)
  let priorDone = 0;
  const rec = reconcileOf(m);
  // 1. already done (this run's journal, or the idempotency store's cache of an earlier run) → skip;
  //    an intent without outcome (the answer was lost) → uncertain, reconciled below before any resend
  const uncertain: Work[] = [];
  const keyed = isWrite && s.idempotency_key !== undefined;
  const scope = ex.scopeOf(s);
  const earlier =
    keyed && ex.idem
      ? await ex.idem.load(
          scope,
          works.map((w) => w.key),
        )
      : undefined;
  for (const w of works) {
    const e = isWrite ? ex.writeLog.get(stepKey(w)) : undefined;
    if (e?.state === 'done') {
      out.set(w.key, { result: e.result });
      priorDone++;
    } else if (earlier?.has(w.key) && e?.state !== 'intent') {
      out.set(w.key, { result: earlier.get(w.key) });
      existing++;
    } else if (e?.state === 'intent') uncertain.push(w);
    else todo.push(w);
  }
  // 1b. keyed writes on a shared store: keys are claimed before anything is sent. A key done meanwhile by another
  //     run is skipped; a key left by a run that stopped without an outcome is reconciled like a lost write; a key
  //     another running run holds is waited for — after this run has sent the keys it holds (no run waits while
  //     holding unsent keys, so two runs never wait on each other)
  const claiming = keyed && !!ex.idem?.claim;
  const orphans = new Set<Work>();
  /** Keys this run claimed and whose claim must be given back at the end (not sent, or failed). */
  const claimed = new Set<string>();
  const sentKeys = new Set<string>();
  let held: Work[] = [];
  const claimRound = async (pending: Work[]): Promise<Work[]> => {
    const got = await ex.idem!.claim!(
      scope,
      pending.map((w) => w.key),
      ex.run.runId,
    );
    const mine: Work[] = [];
    held = [];
    for (const w of pending) {
      const c = got.get(w.key);
      if (!c || c.state === 'mine') {
        claimed.add(w.key);
        mine.push(w);
      } else if (c.state === 'done') {
        out.set(w.key, { result: c.result });
        existing++;
      } else if (c.state === 'orphaned') {
        claimed.add(w.key);
        orphans.add(w);
        uncertain.push(w);
      } else held.push(w);
    }
    return mine;
  };
  if (claiming && todo.length) todo = await claimRound(todo);
  const unsure: Work[] = [];
  let sent = 0;
  let failed = 0;
  const errors: NonNullable<StepRecord['errors']> = [];
  const total = works.length;
  const lost: Work[] = [];
  try {
    for (;;) {
      if (isWrite && rec.by === 'origin_id' && rec.field)
        for (const w of [...todo, ...uncertain]) w.params = withMarker(w.params, rec.field, markerOf(ex, s, w.key));
      // 2. reconcile with the portal: the uncertain writes, and (keyed steps) the keys this folder's cache does not know
      //    (another folder or machine may have run them)
      const resent = new Set<Work>();
      if (isWrite && findsByRead(rec)) {
        const lostBefore = new Set(uncertain);
        const probe = [...uncertain, ...(keyed ? todo : [])];
        const { found, unknown } = probe.length
          ? await findExisting(
              ex,
              m,
              rec,
              probe.map((w) => ({ key: w.key, params: w.params })),
            )
          : { found: new Map<string, number>(), unknown: new Set<string>() };
        const entries: WriteEntry[] = [];
        for (const w of probe) {
          const id = found.get(w.key);
          if (!id) continue;
          out.set(w.key, { result: id });
          if (lostBefore.has(w) && !orphans.has(w)) priorDone++;
          else existing++;
          entries.push({
            key: stepKey(w),
            step: ex.prefix + s.id,
            state: 'done',
            result: id,
            at: new Date().toISOString(),
          });
        }
        if (ex.journal) await ex.journal.recordWrites(ex.run.runId, entries);
        if (keyed && ex.idem)
          await ex.idem.record(
            scope,
            entries.map((e) => ({ key: e.key.slice(e.key.indexOf('#') + 1), result: e.result })),
          );
        // not found by the marker the create carries → it did not happen, safe to send; a failed read on an uncertain
        // write → still uncertain; on a fresh key → nothing says it was ever sent, send
        unsure.push(...uncertain.filter((w) => !found.has(w.key) && unknown.has(w.key)));
        todo = [
          ...todo.filter((w) => !found.has(w.key)),
          ...uncertain.filter((w) => !found.has(w.key) && !unknown.has(w.key)),
        ];
      } else if (isWrite && rec.by === 'header' && m.rest_v3) {
        // resent over REST 3.0 under the same Idempotency-Key: the portal replays the first answer
        for (const w of uncertain) {
          todo.push(w);
          resent.add(w);
        }
      } else if (isWrite)
        unsure.push(...uncertain); // `none`: never resent blindly
      else todo.push(...uncertain);
      // REST 3.0 creates of a keyed step go out alone with their Idempotency-Key from the first send
      const headerSend = isWrite && rec.by === 'header' && !!m.rest_v3 && (keyed || resent.size > 0);
      const retry = s.retry;
      const attempts = retry?.attempts ?? 1;
      for (let attempt = 1; attempt <= attempts && todo.length; attempt++) {
        const failedNow: Work[] = [];
        // commands per request as compiled (1 without batching or for a method that cannot sit in a batch)
        const chunk = ex.o.batching === false ? 1 : (ex.program.step(s.id)?.chunk ?? 1);
        // `concurrency` chunks (batches, or single calls without batching) in flight at once; default 1
        const parallel = Math.max(1, s.concurrency ?? 1);
        const chunks = chunked(todo, chunk);
        let next = 0;
        const worker = async () => {
          while (next < chunks.length) {
            const part = chunks[next++]!;
            await runChunk(part);
          }
        };
        const runChunk = async (part: Work[]) => {
          if (timeout !== undefined && Date.now() - t0 > timeout)
            throw new RuntimeFailure(`step "${s.id}" timed out after ${s.timeout}`);
          if (ex.o.signal?.aborted) throw new RuntimeFailure('run aborted');
          for (const w of part) sentKeys.add(w.key);
          if (isWrite && ex.journal)
            await ex.journal.recordWrites(
              ex.run.runId,
              part.map((w) => ({
                key: stepKey(w),
                step: ex.prefix + s.id,
                state: 'intent' as const,
                ...(rec.by === 'origin_id' ? { origin: markerOf(ex, s, w.key) } : {}),
                at: new Date().toISOString(),
              })),
            );
          const idKeys: Record<string, string> = {};
          if (headerSend) for (const w of part) idKeys[w.key] = headerKeyOf(ex, s, w.key);
          // writes the client routes over REST 3.0 (catalog `rest_v3`) carry an Idempotency-Key (per call, or per
          // REST 3.0 batch from its calls' keys): a resend after a lost answer is replayed by the portal, not run twice
          const overV3 =
            isWrite &&
            !headerSend &&
            !!m.rest_v3 &&
            ex.o.client.routeOf?.(m.name, (part[0]?.params ?? {}) as any) === 3;
          if (overV3) for (const w of part) idKeys[w.key] = v3KeyOf(ex, s, w.key);
          // a method that cannot sit inside a batch (batch itself) goes as single calls
          // (REST 3.0 writes go as REST 3.0 batches; what falls back to REST 2 is batched the REST 2 way)
          const v3Batch = overV3 && m.batchable !== false;
          const single = headerSend || (overV3 && !v3Batch) || m.batchable === false;
          const before = ex.requests;
          let res: CallAnswers;
          try {
            res = await ex.send(
              part.map((w) => [w.key, { method: m.name, params: w.params as Record<string, unknown> }]),
              {
                single,
                idempotencyKeys: idKeys,
                ...(headerSend ? { version: 3 as const } : {}),
                ...(v3Batch ? { v3Batch: true } : {}),
              },
            );
          } catch (err) {
            // the batch went out and its answer was lost: the portal may have run any of its writes
            if (!isWrite || ex.signal?.aborted || !(err instanceof NetworkError)) throw err;
            ex.requests++;
            res = new Map(part.map((w) => [w.key, { error: errorInfo(err), lost: true }]));
          }
          ex.record(s, { requests: (ex.steps.get(s.id)?.requests ?? 0) + (ex.requests - before) });
          const entries: WriteEntry[] = [];
          for (const w of part) {
            const r = res.get(w.key)!;
            if (r.lost && isWrite) {
              // stays an intent in the journal: a resume reconciles it before anything is resent
              lost.push(w);
              out.set(w.key, r);
            } else if (r.error) {
              const retryable =
                attempt < attempts &&
                (!retry?.on?.length || retry.on.includes(r.error.code ?? '') || retry.on.includes('retryable'));
              if (retryable) failedNow.push(w);
              else {
                failed++;
                errors.push({ item: w.index, key: w.key, ...r.error });
                out.set(w.key, r);
                entries.push({
                  key: stepKey(w),
                  step: ex.prefix + s.id,
                  state: 'failed',
                  error: r.error.message,
                  at: new Date().toISOString(),
                });
              }
            } else {
              sent++;
              out.set(w.key, r);
              entries.push({
                key: stepKey(w),
                step: ex.prefix + s.id,
                state: 'done',
                result: compactResult(r.result),
                at: new Date().toISOString(),
              });
            }
          }
          if (isWrite && ex.journal) await ex.journal.recordWrites(ex.run.runId, entries);
          if (keyed && ex.idem)
            await ex.idem.record(
              scope,
              entries
                .filter((e) => e.state === 'done')
                .map((e) => ({ key: e.key.slice(e.key.indexOf('#') + 1), result: e.result })),
            );
          ex.progress(s.id, sent + existing + priorDone + failed, total);
        };
        await Promise.all(Array.from({ length: Math.min(parallel, chunks.length) }, worker));
        todo = failedNow;
        if (todo.length) await sleep((retry?.backoff_ms ?? 1000) * (retry?.factor ?? 2) ** (attempt - 1), ex.o.signal);
      }
      if (!held.length) break;
      // keys another running run holds: wait for its outcome (done → skipped; failed and given back → sent here)
      await sleep(HELD_POLL_MS, ex.o.signal);
      if (ex.o.signal?.aborted) throw new RuntimeFailure('run aborted');
      if (timeout !== undefined && Date.now() - t0 > timeout)
        throw new RuntimeFailure(`step "${s.id}" timed out after ${s.timeout} waiting for keys another run holds`);
      uncertain.length = 0;
      todo = await claimRound(held);
    }
  } finally {
    if (claiming) {
      // give back what was not sent, or failed for good; a write sent without a definite answer keeps its claim
      const giveBack = [...claimed].filter((k) => {
        const r = out.get(k);
        return !sentKeys.has(k) ? !r || (!!r.error && !r.lost) : !!r?.error && !r.lost;
      });
      if (giveBack.length) await ex.idem!.release?.(scope, giveBack, ex.run.runId);
    }
  }
  const done = sent + existing + priorDone;
  const uncertainN = unsure.length + lost.length;
  if (uncertainN) {
    const entity = m.entity ?? 'record';
    const reason = uncertainMessage(ex.prefix + s.id, entity, uncertainN, rec, ex.run.runId, ex.lang());
    ex.uncertain ??= reason;
    for (const w of unsure) out.set(w.key, { error: { code: 'UNCERTAIN', message: reason }, lost: true });
    ex.record(s, {
      done: done - existing,
      ...(priorDone ? { earlier: priorDone } : {}),
      existing,
      failed,
      uncertain: uncertainN,
      reason,
      ...(errors.length ? { errors: errors.slice(0, 50) } : {}),
      status: 'uncertain',
      finishedAt: new Date().toISOString(),
    });
    return out;
  }
  ex.record(s, {
    done: done - existing,
    ...(priorDone ? { earlier: priorDone } : {}),
    existing,
    failed,
    ...(errors.length ? { errors: errors.slice(0, 50) } : {}),
    status: failed ? (done ? 'partial' : 'failed') : 'running',
    finishedAt: new Date().toISOString(),
  });
  return out;
}
