import type { Rule } from '../rule.js';

/**
 * Explains (severity `info`, never fails `check`) a read step whose expressions use the result of an earlier write,
 * or of a read deferred behind one (`crm.deal.add` → `crm.deal.get id: ${{ steps.mk.result }}`): the value exists
 * only after the write, so `plan`
 * and shadow runs show the read as deferred (`<after step mk>`) and do not send it; `run` sends it after the write.
 */
export const readAfterWrite: Rule = {
  name: 'read-after-write',
  description: 'read that uses a write result: deferred in plan/shadow, performed after the write by run',
  check(ctx) {
    const steps = ctx.p.pipeline.steps;
    const byId = new Map(steps.map((s) => [s.id, s]));
    // step id → the write it waits for: writes themselves, then (in graph order) the reads using one of them
    const waits = new Map<string, string>();
    for (const s of steps) {
      const m = ctx.methodOf(s);
      if (m && m.risk !== 'read') waits.set(s.id, s.id);
    }
    const order = ctx.graph.order.length === steps.length ? ctx.graph.order : steps.map((s) => s.id);
    const out: ReturnType<Rule['check']> = [];
    for (const id of order) {
      const s = byId.get(id);
      if (!s || ctx.methodOf(s)?.risk !== 'read') continue;
      const ref = (ctx.graph.refs.get(s.id) ?? []).find((r) => waits.has(r.id));
      if (!ref) continue;
      const after = waits.get(ref.id)!;
      waits.set(s.id, after);
      out.push(
        ctx.at(
          ref.path,
          `step "${s.id}" reads the result of ${after === ref.id ? 'write step' : `step "${ref.id}", after write step`} "${after}": plan and shadow runs show it as <after step ${after}> without sending it; run sends it after the write`,
          { offset: ref.offset, severity: 'info' },
        ),
      );
    }
    return out;
  },
};
