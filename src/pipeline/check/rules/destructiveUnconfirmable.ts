import { expandSteps } from '../../expand.js';
import { isInteractive, triggerApprovesWrite, triggerKind } from '../../triggers.js';
import type { Rule } from '../rule.js';

/**
 * A destructive step needs a person's confirmation. An unattended trigger (schedule, event) that asks the pipeline's
 * `approvers:` (`approve: ask`, the default) gets it from them, with the second confirmation; one that pre-approves
 * writes (`approve: write`) runs with nobody asked, and `approve` cannot pre-approve destructive steps. When every
 * trigger is such an unattended one that nobody confirms, it is an error. Steps inside recipes (`use:`) and
 * sub-pipelines (`pipeline:`) count too (reported at the calling step).
 */
export const destructiveUnconfirmable: Rule = {
  name: 'destructive-unconfirmable',
  description: 'destructive step in a pipeline whose triggers can never confirm it',
  check(ctx) {
    const triggers = ctx.p.pipeline.triggers ?? [];
    if (!triggers.length) return [];
    const asks = !!ctx.p.pipeline.approvers;
    const unattended = triggers.filter((t) => !isInteractive(triggerKind(t)) && (triggerApprovesWrite(t) || !asks));
    if (!unattended.length) return [];
    const all = unattended.length === triggers.length;
    const kinds = [...new Set(unattended.map(triggerKind))].join(', ');
    return expandSteps(ctx.p, ctx.catalog).flatMap((x) => {
      const m = x.method;
      if (m?.risk !== 'destructive') return [];
      const top = ctx.p.pipeline.steps[x.top]!;
      const where = x.depth ? ` (through ${x.via.join(' → ')})` : '';
      const path = x.depth ? ['steps', x.top, top.use !== undefined ? 'use' : 'pipeline'] : ['steps', x.top, 'method'];
      return [
        ctx.at(
          path,
          all
            ? `destructive step "${x.id}" (${m.name})${where} in a pipeline whose triggers (${kinds}) can never confirm it`
            : `destructive step "${x.id}" (${m.name})${where} will be refused when the pipeline runs from ${kinds}`,
          { severity: all ? 'error' : 'warning' },
        ),
      ];
    });
  },
};
