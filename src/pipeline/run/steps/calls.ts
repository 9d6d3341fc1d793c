/**
 * The calls of a method step, with the journal around every write: each work item has a key (`idempotency_key`,
 * else the item index); before a request the journal records the intent, after it the outcome. Done keys (this
 * run's journal, or an earlier run's idempotency store) are skipped; uncertain legacy CRM creates are looked up by
 * the `ORIGIN_ID` b24flow sets on them, other uncertain writes are resent alone with an `Idempotency-Key`.
 * Chunks of the compiled size go out `concurrency` at a time, with `retry` and the step's `timeout`.
 */
import { RuntimeFailure } from '../../../lib/failures.js';
import { chunked, LEGACY_CRM_ADD } from '../../compile/batches.js';
import type { StepRecord, WriteEntry } from '../../journal.js';
import { hashOf, type Step } from '../../load.js';
import type { StepMethod } from '../../modes.js';
import type { Execution } from '../execution.js';
import { compactResult, fieldOf, rowsOf, sleep } from '../results.js';
import type { CallAnswers } from '../send.js';

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
  const origin = (w: Work) => `b24flow-${hashOf([ex.p.pipeline.name, ex.prefix + s.id, w.key]).slice(0, 24)}`;
  // 1. already done (this run's journal, or an earlier run with the same key) → skip;
  //    uncertain legacy CRM creates → look up by ORIGIN_ID
  const uncertain: Work[] = [];
  const keyed = isWrite && s.idempotency_key !== undefined && ex.idem;
  const scope = ex.scopeOf(s);
  const earlier = keyed ? await ex.idem!.load(scope) : undefined;
  for (const w of works) {
    const e = isWrite ? ex.writeLog.get(stepKey(w)) : undefined;
    if (e?.state === 'done') {
      out.set(w.key, { result: e.result });
      existing++;
    } else if (earlier?.has(w.key) && e?.state !== 'intent') {
      out.set(w.key, { result: earlier.get(w.key) });
      existing++;
    } else if (e?.state === 'intent') uncertain.push(w);
    else todo.push(w);
  }
  if (uncertain.length) {
    if (LEGACY_CRM_ADD.test(m.name)) {
      const listMethod = m.name.replace(/\.add$/i, '.list');
      const looks = await ex.send(
        uncertain.map((w) => [
          w.key,
          { method: listMethod, params: { filter: { ORIGIN_ID: origin(w) }, select: ['ID'] } },
        ]),
      );
      const found: WriteEntry[] = [];
      for (const w of uncertain) {
        const rows = rowsOf(looks.get(w.key)?.result);
        const id = rows.length ? Number(fieldOf(rows[0], 'ID')) : undefined;
        if (id) {
          out.set(w.key, { result: id });
          existing++;
          found.push({
            key: stepKey(w),
            step: ex.prefix + s.id,
            state: 'done',
            result: id,
            at: new Date().toISOString(),
          });
        } else todo.push(w);
      }
      if (ex.journal) await ex.journal.recordWrites(ex.run.runId, found);
      if (keyed)
        await ex.idem!.record(
          scope,
          found.map((e) => ({ key: e.key.slice(e.key.indexOf('#') + 1), result: e.result })),
        );
    } else {
      // cannot look it up: resend alone with the key as Idempotency-Key (REST 3.0 dedupes); counted as uncertain
      for (const w of uncertain) todo.push(w);
    }
  }
  if (LEGACY_CRM_ADD.test(m.name))
    for (const w of todo) {
      const p = w.params as { fields?: Record<string, unknown> };
      if (
        p &&
        typeof p === 'object' &&
        p.fields &&
        typeof p.fields === 'object' &&
        fieldOf(p.fields, 'ORIGIN_ID') === undefined
      )
        w.params = { ...p, fields: { ...p.fields, ORIGIN_ID: origin(w) } };
    }
  let done = existing;
  let failed = 0;
  const errors: NonNullable<StepRecord['errors']> = [];
  const retry = s.retry;
  const attempts = retry?.attempts ?? 1;
  const total = works.length;
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
      if (isWrite && ex.journal)
        await ex.journal.recordWrites(
          ex.run.runId,
          part.map((w) => ({
            key: stepKey(w),
            step: ex.prefix + s.id,
            state: 'intent' as const,
            ...(LEGACY_CRM_ADD.test(m.name) ? { origin: origin(w) } : {}),
            at: new Date().toISOString(),
          })),
        );
      const idKeys: Record<string, string> = {};
      const resend = uncertain.length > 0 && part.some((w) => uncertain.includes(w)) && !LEGACY_CRM_ADD.test(m.name);
      if (resend) for (const w of part) idKeys[w.key] = `b24flow-${hashOf(stepKey(w)).slice(0, 32)}`;
      // a method that cannot sit inside a batch (batch itself) goes as single calls
      const single = resend || m.batchable === false;
      const before = ex.requests;
      const res = await ex.send(
        part.map((w) => [w.key, { method: m.name, params: w.params as Record<string, unknown> }]),
        { single, idempotencyKeys: idKeys },
      );
      ex.record(s, { requests: (ex.steps.get(s.id)?.requests ?? 0) + (ex.requests - before) });
      const entries: WriteEntry[] = [];
      for (const w of part) {
        const r = res.get(w.key)!;
        if (r.error) {
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
          done++;
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
      if (keyed)
        await ex.idem!.record(
          scope,
          entries
            .filter((e) => e.state === 'done')
            .map((e) => ({ key: e.key.slice(e.key.indexOf('#') + 1), result: e.result })),
        );
      ex.progress(s.id, done + failed, total);
    };
    await Promise.all(Array.from({ length: Math.min(parallel, chunks.length) }, worker));
    todo = failedNow;
    if (todo.length) await sleep((retry?.backoff_ms ?? 1000) * (retry?.factor ?? 2) ** (attempt - 1), ex.o.signal);
  }
  ex.record(s, {
    done: done - existing,
    existing,
    failed,
    ...(errors.length ? { errors: errors.slice(0, 50) } : {}),
    status: failed ? (done ? 'partial' : 'failed') : 'running',
    finishedAt: new Date().toISOString(),
  });
  return out;
}
