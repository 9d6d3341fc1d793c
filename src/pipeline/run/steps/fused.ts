/**
 * A fused pair (compiled in src/pipeline/compile/fusion.ts) at run time: per item the pair (A_i, B_i) in one batch,
 * B_i reading A_i's result through `$result[a<i>][...]`; 25 pairs per request, `halt` so that B_i never runs after a
 * failed A_i. The run declines the pair (each step then runs alone) in shadow mode, on resume, without batching,
 * when a dependency of B did not finish, when either step is refused, or when the data carries batch syntax or
 * keys done by an earlier run.
 */
import { type BatchCommand, BatchRef } from '../../../bitrix/batch.js';
import { RuntimeFailure } from '../../../lib/failures.js';
import { BATCH_SIZE, containsBatchSyntax, LEGACY_CRM_ADD } from '../../compile/batches.js';
import type { FusedPair } from '../../compile/fusion.js';
import type { CompiledStep } from '../../compile/program.js';
import { isExpression, isTemplate } from '../../expr.js';
import type { StepRecord, WriteEntry } from '../../journal.js';
import { hashOf, type Step } from '../../load.js';
import type { StepMethod } from '../../modes.js';
import type { Execution } from '../execution.js';
import { compactResult, errorInfo, fieldOf, touches } from '../results.js';

/**
 * Runs the write step `cs` fused with its compiled partner when this run allows it.
 * @returns [partner id] when the pair ran (the partner's `on_error` already applied), undefined when declined
 */
export async function fusedStep(ex: Execution, cs: CompiledStep): Promise<string[] | undefined> {
  const pair = ex.program.fusedFrom(cs.id);
  if (!pair || ex.o.batching === false || ex.o.mode === 'shadow' || ex.o.resume) return;
  const b = ex.program.step(pair.second);
  if (!b?.method || !ex.order.includes(b.id)) return;
  for (const d of b.deps) if (d !== cs.id && ex.steps.get(d)?.status !== 'done') return;
  // an approved request's run sends its approved writes one by one through the gate of method.ts
  if (ex.o.approvedWrites || ex.refusal(cs.step, cs.method!) || ex.refusal(b.step, b.method)) return;
  if (!(await fusedFanOut(ex, cs.step, cs.method!, b.step, b.method, pair.refs))) return;
  ex.order.splice(ex.order.indexOf(b.id), 1);
  await ex.afterStep(b.step);
  return [];
}

/**
 * Runs A and B together: per item the pair (A_i, B_i) in one batch, B_i reading A_i's result through
 * `$result[...]`; 25 pairs per request, `halt` so that B_i never runs after a failed A_i. Returns false (nothing
 * done) when the fan-out cannot be fused after all (earlier keys, batch syntax in data).
 */
async function fusedFanOut(
  ex: Execution,
  a: Step,
  am: StepMethod,
  b: Step,
  bm: StepMethod,
  refs: FusedPair['refs'],
): Promise<boolean> {
  const items = ex.foreachItems(a);
  const keyOf = (s: Step, ctx: Record<string, unknown>, i: number) => {
    if (s.idempotency_key === undefined) return `${i}`;
    const k = ex.ev.resolve(s.idempotency_key, ctx, ex.maxList());
    return typeof k === 'string' ? k : JSON.stringify(k);
  };
  const pairs = items.map((item, index) => {
    const ctx = ex.ctx({ item, index });
    const resolveB = (v: unknown, path: string): unknown => {
      const ref = refs[path];
      if (ref) return { __ref: ref };
      if (Array.isArray(v)) return v.map((x, i) => resolveB(x, `${path}/${i}`));
      if (v && typeof v === 'object' && !isTemplate(v) && !isExpression(v))
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolveB(x, `${path}/${k}`)]));
      return ex.ev.resolve(v, ctx, ex.maxList());
    };
    return {
      index,
      a: { params: ex.resolveParams(a, am, ctx), key: keyOf(a, ctx, index) },
      b: { params: resolveB(b.params ?? {}, ''), key: keyOf(b, ctx, index) },
    };
  });
  if (pairs.some((x) => containsBatchSyntax(x.a.params) || containsBatchSyntax(x.b.params))) return false;
  const scopeA = ex.scopeOf(a);
  const scopeB = ex.scopeOf(b);
  const earlierA =
    a.idempotency_key !== undefined && ex.idem
      ? await ex.idem.load(
          scopeA,
          pairs.map((x) => x.a.key),
        )
      : undefined;
  const earlierB =
    b.idempotency_key !== undefined && ex.idem
      ? await ex.idem.load(
          scopeB,
          pairs.map((x) => x.b.key),
        )
      : undefined;
  if (pairs.some((x) => earlierA?.has(x.a.key) || earlierB?.has(x.b.key))) return false;
  // keys claimed in a shared store before anything is sent; any key another run holds (or left): not fused — the
  // step-by-step path waits for it or reconciles it
  const claims: [string, string[]][] = [];
  const giveBack = async () => {
    for (const [sc, ks] of claims) await ex.idem!.release?.(sc, ks, ex.run.runId);
  };
  if (ex.idem?.claim)
    for (const [s, scope, keys] of [
      [a, scopeA, pairs.map((x) => x.a.key)],
      [b, scopeB, pairs.map((x) => x.b.key)],
    ] as const) {
      if (s.idempotency_key === undefined) continue;
      const got = await ex.idem.claim(scope, keys, ex.run.runId);
      claims.push([scope, keys]);
      if (keys.some((k) => got.get(k)?.state !== 'mine')) {
        await giveBack();
        return false;
      }
    }
  const origin = (s: Step, key: string) =>
    `b24flow-${hashOf([ex.p.pipeline.name, ex.prefix + s.id, key]).slice(0, 24)}`;
  if (LEGACY_CRM_ADD.test(am.name))
    for (const x of pairs) {
      const p = x.a.params as { fields?: Record<string, unknown> };
      if (p?.fields && typeof p.fields === 'object' && fieldOf(p.fields, 'ORIGIN_ID') === undefined)
        x.a.params = { ...p, fields: { ...p.fields, ORIGIN_ID: origin(a, x.a.key) } };
    }
  const started = new Date().toISOString();
  ex.record(a, { status: 'running', startedAt: started, items: items.length });
  ex.record(b, { status: 'running', startedAt: started, items: items.length });
  ex.count(a.id, items.length);
  ex.count(b.id, items.length);
  const resA: unknown[] = items.map(() => null);
  const resB: unknown[] = items.map(() => null);
  const errs: Record<string, NonNullable<StepRecord['errors']>> = { [a.id]: [], [b.id]: [] };
  const done: Record<string, number> = { [a.id]: 0, [b.id]: 0 };
  const reqBefore = ex.requests;
  const now = () => new Date().toISOString();
  const entry = (s: Step, key: string, state: WriteEntry['state'], extra: Partial<WriteEntry> = {}): WriteEntry => ({
    key: `${ex.prefix}${s.id}#${key}`,
    step: ex.prefix + s.id,
    state,
    at: now(),
    ...extra,
  });
  const PAIRS = BATCH_SIZE / 2;
  let queue = pairs;
  while (queue.length) {
    if (ex.o.signal?.aborted) throw new RuntimeFailure('run aborted');
    const part = queue.slice(0, PAIRS);
    const cmds: Record<string, BatchCommand> = {};
    part.forEach((x, j) => {
      const withRef = (v: unknown): unknown => {
        if (v && typeof v === 'object' && '__ref' in (v as object))
          return new BatchRef(`a${j}`, (v as { __ref: (string | number)[] }).__ref);
        if (Array.isArray(v)) return v.map(withRef);
        if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, y]) => [k, withRef(y)]));
        return v;
      };
      cmds[`a${j}`] = { method: am.name, params: x.a.params as Record<string, unknown> };
      cmds[`b${j}`] = { method: bm.name, params: withRef(x.b.params) as Record<string, unknown> };
    });
    if (ex.journal)
      await ex.journal.recordWrites(
        ex.run.runId,
        part.flatMap((x) => [
          entry(a, x.a.key, 'intent', LEGACY_CRM_ADD.test(am.name) ? { origin: origin(a, x.a.key) } : {}),
          entry(b, x.b.key, 'intent'),
        ]),
      );
    const r = (await ex.o.client.batch(cmds, { halt: true, signal: ex.signal })) as {
      results?: Record<string, unknown>;
      errors?: Record<string, unknown>;
      requests?: number;
    };
    ex.requests += r.requests ?? 1;
    const entries: WriteEntry[] = [];
    const idemA: { key: string; result: unknown }[] = [];
    const idemB: { key: string; result: unknown }[] = [];
    let stopped = part.length;
    for (let j = 0; j < part.length; j++) {
      const x = part[j]!;
      const ra = r.results && `a${j}` in r.results ? r.results[`a${j}`] : undefined;
      const ea = r.errors?.[`a${j}`];
      const rb = r.results && `b${j}` in r.results ? r.results[`b${j}`] : undefined;
      const eb = r.errors?.[`b${j}`];
      if (ra === undefined && !ea) {
        stopped = j; // halted before this pair: send it again in the next request
        break;
      }
      if (ea) {
        errs[a.id]!.push({ item: x.index, key: x.a.key, ...errorInfo(ea) });
        errs[b.id]!.push({ item: x.index, key: x.b.key, message: `not run: "${a.id}" failed for this item` });
        entries.push(entry(a, x.a.key, 'failed', { error: errorInfo(ea).message }), entry(b, x.b.key, 'failed'));
        stopped = j + 1;
        break;
      }
      resA[x.index] = ra;
      done[a.id]!++;
      entries.push(entry(a, x.a.key, 'done', { result: compactResult(ra) }));
      idemA.push({ key: x.a.key, result: compactResult(ra) });
      if (eb || rb === undefined) {
        errs[b.id]!.push({ item: x.index, key: x.b.key, ...(eb ? errorInfo(eb) : { message: 'not run' }) });
        entries.push(entry(b, x.b.key, 'failed'));
        stopped = j + 1;
        break;
      }
      resB[x.index] = rb;
      done[b.id]!++;
      entries.push(entry(b, x.b.key, 'done', { result: compactResult(rb) }));
      idemB.push({ key: x.b.key, result: compactResult(rb) });
    }
    if (ex.journal) await ex.journal.recordWrites(ex.run.runId, entries);
    if (earlierA) await ex.idem!.record(scopeA, idemA);
    if (earlierB) await ex.idem!.record(scopeB, idemB);
    queue = queue.slice(Math.max(1, stopped));
    ex.progress(b.id, done[b.id]! + errs[b.id]!.length, items.length);
  }
  const fin = now();
  for (const [s, res] of [
    [a, resA],
    [b, resB],
  ] as const) {
    const failed = errs[s.id]!.length;
    ex.record(s, {
      done: done[s.id]!,
      failed,
      ...(failed ? { errors: errs[s.id]!.slice(0, 50) } : {}),
      status: failed ? (done[s.id] ? 'partial' : 'failed') : 'done',
      requests: s === a ? ex.requests - reqBefore : 0,
      finishedAt: fin,
    });
    ex.results.set(s.id, res);
    ex.setResult(s.id, res, s);
    await ex.saveResult(s, res);
  }
  // the keys done stay done; the claims of failed or unsent ones are given back (another run may send them)
  await giveBack();
  for (const [s, sm] of [
    [a, am],
    [b, bm],
  ] as const)
    for (let i = 0; i < items.length; i++)
      ex.writes.push({
        step: ex.prefix + s.id,
        item: i,
        key: (s === a ? pairs[i]!.a.key : pairs[i]!.b.key) as string,
        method: sm.name,
        entity: sm.entity ?? 'record',
        risk: sm.risk as 'write' | 'destructive',
        params: s === a ? pairs[i]!.a.params : pairs[i]!.b.params,
        riskFields: (sm.risk_fields ?? []).filter((f) => touches(s === a ? pairs[i]!.a.params : pairs[i]!.b.params, f)),
      });
  return true;
}
