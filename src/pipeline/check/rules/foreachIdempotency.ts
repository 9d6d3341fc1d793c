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
      return [
        ctx.at(
          ['steps', i, 'foreach'],
          `${m.name} writes once per item but has no idempotency_key; add e.g. idempotency_key: \${{ "${s.id}-" + string(item.ID) }}`,
        ),
      ];
    });
  },
};
