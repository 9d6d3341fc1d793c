import { expandSteps } from '../../expand.js';
import { isInteractive, triggerApprovesWrite, triggerKind } from '../../triggers.js';
import type { Rule } from '../rule.js';

/**
 * A schedule or event trigger that does not pre-approve writes (`approve: ask`, the default) asks the pipeline's
 * `approvers:` before any write runs. Without `approvers:` nobody can be asked: every such run that writes would be
 * refused. Reported at the trigger, once per trigger, when the pipeline has a write or destructive step (inside
 * recipes and sub-pipelines too).
 */
export const approversMissing: Rule = {
  name: 'approvers-missing',
  description: 'unattended trigger that asks for approval in a pipeline that names no approvers',
  check(ctx) {
    if (ctx.p.pipeline.approvers) return [];
    const writes = expandSteps(ctx.p, ctx.catalog).filter((x) => x.method && x.method.risk !== 'read');
    if (!writes.length) return [];
    const first = writes[0]!;
    return (ctx.p.pipeline.triggers ?? []).flatMap((t, i) => {
      const kind = triggerKind(t);
      if (isInteractive(kind) || triggerApprovesWrite(t)) return [];
      return [
        ctx.at(
          ['triggers', i, kind],
          `the ${kind} trigger asks for approval of writes (approve: ask is the default) but the pipeline has no approvers: (e.g. step "${first.id}" writes); add approvers: or approve: [write]`,
        ),
      ];
    });
  },
};
