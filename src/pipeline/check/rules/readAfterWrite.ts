import type { Rule } from '../rule.js';

/**
 * Explains (severity `info`, never fails `check`) a read step whose params use the result of an earlier write
 * (`crm.deal.add` → `crm.deal.get id: ${{ steps.mk.result }}`): the value exists only after the write, so `plan`
 * and shadow runs show the read as deferred (`<after step mk>`) and do not send it; `run` sends it after the write.
 */
export const readAfterWrite: Rule = {
  name: 'read-after-write',
  description: 'read that uses a write result: deferred in plan/shadow, performed after the write by run',
  check(ctx) {
    const steps = ctx.p.pipeline.steps;
    const byId = new Map(steps.map((s) => [s.id, s]));
    const writes = new Set(
      steps
        .filter((s) => {
          const m = ctx.methodOf(s);
          return (m !== undefined && m.risk !== 'read') || s.use !== undefined || s.pipeline !== undefined;
        })
        .map((s) => s.id),
    );
    const out: ReturnType<Rule['check']> = [];
    for (const s of steps) {
      if (ctx.methodOf(s)?.risk !== 'read') continue;
      const ref = (ctx.graph.refs.get(s.id) ?? []).find((r) => writes.has(r.id) && byId.has(r.id));
      if (!ref) continue;
      out.push({
        ...ctx.at(
          ref.path,
          `step "${s.id}" reads the result of write step "${ref.id}": plan and shadow runs show it as <after step ${ref.id}> without sending it; run sends it after the write`,
          { offset: ref.offset },
        ),
        severity: 'info',
      });
    }
    return out;
  },
};
