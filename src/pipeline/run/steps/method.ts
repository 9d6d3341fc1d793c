/**
 * Method steps: one call, or a `foreach` fan-out of calls (reads and writes). Writes follow the mode and the
 * confirmations: refused writes become planned writes with the reason; allowed ones run through calls.ts.
 */

import { RuntimeFailure } from '../../../lib/failures.js';
import type { CompiledStep } from '../../compile/program.js';
import { ExpressionError } from '../../expr.js';
import type { Step } from '../../load.js';
import type { StepMethod } from '../../modes.js';
import type { Execution } from '../execution.js';
import { rowsOf, touches } from '../results.js';
import { writeId } from '../types.js';
import { runCalls, type Work } from './calls.js';
import { fusedStep } from './fused.js';
import { deferRead, readAll, singleReads } from './read.js';

/**
 * A method step that is not a packed single read: a fan-out, a write (fused with its compiled partner when the run
 * allows), or a whole list.
 * @returns ids of the steps run along (the fused partner)
 */
export async function methodKind(ex: Execution, cs: CompiledStep): Promise<string[]> {
  const m = cs.method!;
  if (m?.risk !== 'read') {
    const along = await fusedStep(ex, cs);
    if (along) return along;
  }
  await methodStep(ex, cs.step, m);
  return [];
}

/** Runs a method step under its `timeout` (when it has one). */
export async function methodStep(ex: Execution, s: Step, m: StepMethod): Promise<void> {
  await ex.withTimeout(s, (timeout) => methodStepInner(ex, s, m, timeout));
}

async function methodStepInner(ex: Execution, s: Step, m: StepMethod, timeout: number | undefined): Promise<void> {
  const t0 = Date.now();
  if (m.risk === 'read') {
    if (deferRead(ex, s)) return;
    if (s.all && m.list) return readAll(ex, s, m);
    if (!s.foreach) return singleReads(ex, [s]);
  }
  const items: { item?: unknown; index: number }[] = s.foreach
    ? ex.foreachItems(s).map((item, index) => ({ item, index }))
    : [{ index: 0 }];
  ex.count(s.id, items.length);
  ex.record(s, { items: items.length });
  const works: Work[] = [];
  const lang = ex.lang();
  let pendingAny = false;
  for (const it of items) {
    const ctx = s.foreach ? ex.ctx({ item: it.item, index: it.index }) : ex.baseContext;
    let params: unknown;
    let pending = false;
    try {
      params = ex.resolveParams(s, m, ctx);
    } catch (err) {
      // an expression that ran out of its budget is an error in every mode, never a "pending" write
      if (ex.o.mode === 'full' || isBudgetError(err)) throw err;
      // shadow/canary: params depend on results of writes that did not happen
      pending = true;
      pendingAny = true;
      params = { unresolved: (err as Error).message };
    }
    let key = s.foreach ? `${it.index}` : '0';
    if (s.idempotency_key !== undefined) {
      try {
        const k = ex.ev.resolve(s.idempotency_key, ctx, ex.maxList());
        key = typeof k === 'string' ? k : JSON.stringify(k);
      } catch (err) {
        if (isBudgetError(err)) throw err;
        // keep the positional key
      }
    }
    works.push({ index: it.index, item: it.item, key, params, pending });
  }
  if (m.risk === 'read') {
    const res = await runCalls(ex, s, m, works, timeout, t0);
    const results = works.map((w) => {
      const r = res.get(w.key);
      return r?.error ? null : m.list ? rowsOf(r?.result, m.list.wrapper) : (r?.result ?? null);
    });
    ex.reads[s.id] = results;
    ex.setResult(s.id, results, s);
    await ex.saveResult(s, results);
    return;
  }
  // writes
  const reason = ex.refusal(s, m, lang);
  // an approved request's run sends only the writes people approved (the others are listed, not sent)
  const gate = ex.o.approvedWrites;
  const approved = (w: Work) => !gate || gate.has(writeId({ step: ex.prefix + s.id, key: w.key }));
  const notApproved = lang === 'ru' ? 'не одобрено' : 'not approved';
  for (const w of works)
    ex.writes.push({
      step: ex.prefix + s.id,
      ...(s.foreach ? { item: w.index } : {}),
      key: w.key,
      method: m.name,
      entity: m.entity ?? m.name.split('.').slice(-2, -1)[0] ?? 'record',
      risk: m.risk as 'write' | 'destructive',
      params: w.params,
      riskFields: (m.risk_fields ?? []).filter((f) => touches(w.params, f)),
      ...(reason && ex.o.mode !== 'shadow' ? { refused: reason } : !approved(w) ? { refused: notApproved } : {}),
      ...(w.pending ? { pending: true } : {}),
    });
  if (reason) {
    ex.unperformed.set(s.id, s.id);
    const placeholder = works.map((w) => `⟨${s.id}[${w.index}]⟩`);
    ex.setResult(s.id, s.foreach ? placeholder : placeholder[0], s);
    if (ex.o.mode === 'shadow') ex.record(s, { status: 'planned', finishedAt: new Date().toISOString() });
    else {
      ex.refusals.push({ step: ex.prefix + s.id, reason });
      ex.record(s, { status: 'refused', reason, finishedAt: new Date().toISOString() });
    }
    return;
  }
  if (pendingAny) throw new RuntimeFailure(`step "${s.id}": params could not be resolved`);
  const toSend = works.filter(approved);
  if (!toSend.length) {
    ex.setResult(s.id, s.foreach ? works.map(() => null) : null, s);
    ex.record(s, { status: 'skipped', reason: notApproved, finishedAt: new Date().toISOString() });
    return;
  }
  const res = await runCalls(ex, s, m, toSend, timeout, t0);
  const results = works.map((w) => {
    const r = res.get(w.key);
    return r && !r.error ? (r.result ?? null) : null;
  });
  ex.results.set(s.id, results);
  ex.setResult(s.id, s.foreach ? results : results[0], s);
  await ex.saveResult(s, s.foreach ? results : results[0]);
}

/** True for an expression stopped by its evaluation budget (src/pipeline/exprLimits.ts). */
function isBudgetError(err: unknown): boolean {
  return err instanceof ExpressionError && err.limit !== undefined;
}
