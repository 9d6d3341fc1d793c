import { batchCommandIssues } from '../../batchStep.js';
import type { Rule } from '../rule.js';

/**
 * A `batch` step's commands are structured (`{ method, params }`), never text: a command written as a string, a
 * `$template` or an expression yields a query in which portal data (a title holding `&id=` or `&cmd[x]=`) could
 * change the record written or add a command. The run refuses such a step too (src/pipeline/batchStep.ts).
 */
export const batchCommand: Rule = {
  name: 'batch-command',
  description: 'batch command written as text instead of { method, params }',
  check(ctx) {
    return ctx.p.pipeline.steps.flatMap((s, i) => {
      if (!ctx.methodOf(s)?.risk_from_commands) return [];
      const params = s.params && typeof s.params === 'object' ? (s.params as { cmd?: unknown }) : undefined;
      if (s.params !== undefined && !params)
        return [ctx.at(['steps', i, 'params'], 'params of a batch step must be a map with cmd')];
      return batchCommandIssues(params?.cmd).map((is) =>
        ctx.at(['steps', i, 'params', ...is.path], is.message, is.key ? { key: true } : {}),
      );
    });
  },
};
