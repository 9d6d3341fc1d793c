import { isInteractive, triggerKind } from '../../triggers.js';
import type { Rule } from '../rule.js';

/**
 * A destructive step needs a person's confirmation. When every trigger of the pipeline runs unattended
 * (schedule, event), nobody can ever confirm it; `approve` cannot pre-approve destructive steps.
 */
export const destructiveUnconfirmable: Rule = {
  name: 'destructive-unconfirmable',
  description: 'destructive step in a pipeline whose triggers can never confirm it',
  check(ctx) {
    const triggers = ctx.p.pipeline.triggers ?? [];
    if (!triggers.length) return [];
    const unattended = triggers.filter((t) => !isInteractive(triggerKind(t)));
    if (!unattended.length) return [];
    const all = unattended.length === triggers.length;
    return ctx.p.pipeline.steps.flatMap((s, i) => {
      const m = ctx.methodOf(s);
      if (m?.risk !== 'destructive') return [];
      const kinds = [...new Set(unattended.map(triggerKind))].join(', ');
      return [
        ctx.at(
          ['steps', i, 'method'],
          all
            ? `destructive step "${s.id}" (${m.name}) in a pipeline whose triggers (${kinds}) can never confirm it`
            : `destructive step "${s.id}" (${m.name}) will be refused when the pipeline runs from ${kinds}`,
          { severity: all ? 'error' : 'warning' },
        ),
      ];
    });
  },
};
