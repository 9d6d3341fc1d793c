/**
 * Read steps: single reads (packed into one batch with the other reads of their compiled group that are ready),
 * whole lists (`all: true`: the client's fast export, else its keyset iterator, else paging), and reads taken from
 * the plan made just before.
 */
import type { BatchCommand } from '../../../bitrix/batch.js';
import type { CompiledStep } from '../../compile/program.js';
import { ancestors } from '../../graph.js';
import type { Step } from '../../load.js';
import type { StepMethod } from '../../modes.js';
import type { Execution } from '../execution.js';
import { rowsOf } from '../results.js';

/**
 * A single read, with the members of its compiled read group that come later in the order, have not run, and whose
 * dependencies are done (the others run in their own turn).
 * @returns ids of the steps read along
 */
export async function readStep(ex: Execution, cs: CompiledStep): Promise<string[]> {
  const s = cs.step;
  if (deferRead(ex, s)) return [];
  if (ex.o.batching === false) {
    await ex.withTimeout(s, () => singleReads(ex, [s]));
    return [];
  }
  const group = [s];
  const at = ex.order.indexOf(s.id);
  for (const id of ex.program.readGroupOf(s.id)?.steps ?? []) {
    if (id === s.id || ex.order.indexOf(id) <= at) continue;
    if (ex.o.resume?.steps[ex.prefix + id]?.status === 'done') continue;
    if (ex.depsDone(id) && !waitsFor(ex, ex.stepById(id))) group.push(ex.stepById(id));
  }
  await singleReads(ex, group);
  return group.slice(1).map((t) => t.id);
}

/** Sends single reads together (one batch, or single calls) and records each step. */
export async function singleReads(ex: Execution, group: Step[]): Promise<void> {
  const cmds: [string, BatchCommand][] = group.map((t) => [
    t.id,
    {
      method: ex.method(t)!.name,
      params: ex.resolveParams(t, ex.method(t)!, ex.baseContext) as Record<string, unknown>,
    },
  ]);
  const before = ex.requests;
  const res = await ex.send(cmds);
  for (const t of group) {
    const r = res.get(t.id)!;
    const m = ex.method(t)!;
    if (t !== group[0]) ex.record(t, { status: 'running', startedAt: new Date().toISOString() });
    if (r.error) {
      ex.record(t, { status: 'failed', failed: 1, errors: [{ ...r.error }], finishedAt: new Date().toISOString() });
      ex.setResult(t.id, null, t);
      if (t !== group[0]) await ex.afterStep(t);
      continue;
    }
    const result = m.list ? rowsOf(r.result, m.list.wrapper) : r.result;
    if (m.list) ex.count(t.id, (result as unknown[]).length);
    ex.reads[t.id] = result;
    ex.setResult(t.id, result, t);
    await ex.saveResult(t, result);
    ex.record(t, {
      status: 'done',
      items: 1,
      done: 1,
      requests: t === group[0] ? ex.requests - before : 0,
      finishedAt: new Date().toISOString(),
    });
  }
}

/** `all: true`: every row of a list method. */
export async function readAll(ex: Execution, s: Step, m: StepMethod): Promise<void> {
  const params = (ex.resolveParams(s, m, ex.baseContext) ?? {}) as Record<string, unknown>;
  const rows: unknown[] = [];
  const client = ex.o.client;
  const before = ex.requests;
  const stats0 = client.stats?.().requests;
  if (ex.o.batching !== false && client.exportAll && m.list?.keyset !== false) {
    for await (const page of client.exportAll(m.name, params, { signal: ex.signal, wrapper: m.list?.wrapper })) {
      rows.push(...page);
      // rows so far; the client counts the export's requests
      ex.o.onProgress?.({
        step: ex.prefix + s.id,
        done: rows.length,
        total: rows.length,
        requests: ex.requests + (client.stats && stats0 !== undefined ? client.stats().requests - stats0 : 0),
      });
    }
  } else if (client.list) {
    for await (const row of client.list(m.name, params, { signal: ex.signal, wrapper: m.list?.wrapper }))
      rows.push(row);
  } else {
    let start: number | undefined = 0;
    while (start !== undefined) {
      const r: { result: unknown; next?: number } = await client.call(
        m.name,
        { ...params, start },
        { signal: ex.signal },
      );
      ex.requests++;
      rows.push(...rowsOf(r.result, m.list?.wrapper));
      start = r.next;
    }
  }
  const stats1 = client.stats?.().requests;
  if (stats0 !== undefined && stats1 !== undefined) ex.requests += stats1 - stats0 - (ex.requests - before);
  ex.count(s.id, rows.length);
  ex.reads[s.id] = rows;
  ex.setResult(s.id, rows, s);
  await ex.saveResult(s, rows);
  ex.record(s, { items: rows.length, done: rows.length, requests: ex.requests - before });
}

/**
 * Takes a read step's result from the plan made just before (`planReads`) when nothing forces a re-read: a
 * top-level step with a recorded result, no retry/`if` surprises, and no write, recipe or sub-pipeline upstream.
 * @returns false when the step must be read from the portal
 */
export async function reusePlanRead(ex: Execution, s: Step): Promise<boolean> {
  const reads = ex.o.planReads;
  if (!reads || ex.prefix || ex.o.resume || !Object.hasOwn(reads, s.id)) return false;
  for (const a of ancestors(ex.graph, s.id)) {
    const t = ex.program.step(a)?.step;
    if (!t || t.use || t.pipeline || ex.method(t)?.risk !== 'read') return false;
    if (ex.steps.get(a)?.status !== 'done') return false;
  }
  const result = reads[s.id];
  const n = Array.isArray(result) ? result.length : 1;
  if (Array.isArray(result)) ex.count(s.id, n);
  ex.reads[s.id] = result;
  ex.setResult(s.id, result, s);
  await ex.saveResult(s, result);
  ex.record(s, {
    status: 'done',
    items: n,
    done: n,
    requests: 0,
    finishedAt: new Date().toISOString(),
  });
  return true;
}

/** The write step a read waits for: one of the steps its expressions use has no result in this mode. */
function waitsFor(ex: Execution, s: Step): string | undefined {
  if (!ex.unperformed.size) return undefined;
  for (const r of ex.graph.refs.get(s.id) ?? []) {
    const after = ex.unperformed.get(r.id);
    if (after) return after;
  }
  return undefined;
}

/**
 * Read after write: in a mode where an earlier write did not run (shadow/plan, canary refusals), a read whose
 * expressions use its result (or a read deferred behind it) is not sent: it is recorded as planned with the reason
 * `<after step mk>`, listed in the plan's `deferred`, and its result is that text. `run` sends it after the write.
 * @returns true when the read was deferred
 */
export function deferRead(ex: Execution, s: Step): boolean {
  const after = waitsFor(ex, s);
  if (!after) return false;
  const reason = `<after step ${after}>`;
  ex.unperformed.set(s.id, after);
  ex.deferred.push({ step: ex.prefix + s.id, method: ex.method(s)?.name ?? s.method ?? '', after: ex.prefix + after });
  ex.setResult(s.id, reason, s);
  ex.record(s, { status: 'planned', reason, finishedAt: new Date().toISOString() });
  return true;
}
