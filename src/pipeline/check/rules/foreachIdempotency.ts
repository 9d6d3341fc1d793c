import type { Rule } from '../rule.js';

/**
 * A write inside `foreach` carries an `idempotency_key`, so a retried or resumed run never repeats a write
 * that already happened (per item).
 */
export const foreachIdempotency: Rule = {
  name: 'foreach-idempotency',
  description: 'write inside foreach without idempotency_key',
  check(ctx) {
    return ctx.p.pipeline.steps.flatMap((s, i) => {
      const m = ctx.methodOf(s);
      if (!s.foreach || !m || m.risk === 'read' || s.idempotency_key !== undefined) return [];
      // the suggested key uses the id field of the rows the foreach walks (`ID` for crm.deal.list, `id` for
      // crm.item.list), when they come from a list step
      const from = typeof s.foreach === 'string' ? /steps\.([A-Za-z0-9_-]+)\.result/.exec(s.foreach)?.[1] : undefined;
      const source = from ? ctx.p.pipeline.steps.find((t) => t.id === from) : undefined;
      const idField = (source && ctx.methodOf(source)?.list?.id_field) || 'ID';
      return [
        ctx.at(
          ['steps', i, 'foreach'],
          `${m.name} writes once per item but has no idempotency_key; add e.g. idempotency_key: \${{ "${s.id}-" + string(item.${idField}) }}`,
        ),
      ];
    });
  },
};
