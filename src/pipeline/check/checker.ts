/**
 * `checkPipeline`: runs every rule in `rules/` over a loaded pipeline and returns findings sorted by position.
 */
import type { Finding } from '../../lib/failures.js';
import { buildGraph } from '../graph.js';
import type { LoadedPipeline } from '../load.js';
import { stepMethod } from '../modes.js';
import type { CheckContext, RuleContext } from './rule.js';
import { rules } from './rules/registry.js';

export type { CheckContext, PortalFacts, Rule, RuleContext } from './rule.js';
export { rules };

/**
 * Checks a pipeline statically against the catalog, its packs, the portal (auth, scopes) and the types of upstream
 * step outputs. Never throws for bad pipelines: every problem is a finding (`severity: error` fails `b24flow check`).
 */
export function checkPipeline(p: LoadedPipeline, ctx: CheckContext): Finding[] {
  const methodOf: RuleContext['methodOf'] = (s) => stepMethod(s, ctx.catalog);
  const graph =
    ctx.program?.pipeline === p
      ? ctx.program.graph
      : buildGraph(p, (s) => {
          const m = methodOf(s);
          return !!m && m.risk !== 'read';
        });
  const rc: RuleContext = {
    ...ctx,
    p,
    graph,
    methodOf,
    at(path, message, opts = {}) {
      const pos =
        opts.offset !== undefined ? p.locateIn(path, opts.offset) : opts.key ? p.locateKey(path) : p.locate(path);
      return {
        file: p.file,
        line: pos.line,
        col: pos.col,
        field: `/${path.join('/')}`,
        message,
        severity: opts.severity ?? 'error',
      };
    },
  };
  const out: Finding[] = [];
  for (const rule of rules) {
    for (const f of rule.check(rc)) out.push({ ...f, rule: rule.name });
  }
  return out.sort((a, b) => a.line - b.line || a.col - b.col || a.rule.localeCompare(b.rule));
}

/** True when any finding is an error. */
export function hasErrors(findings: Finding[]): boolean {
  return findings.some((f) => f.severity === 'error');
}
