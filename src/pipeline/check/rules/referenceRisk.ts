import type { MethodInfo } from '../../catalog.js';
import type { Rule } from '../rule.js';

const RANK = { read: 0, write: 1, destructive: 2 } as const;
type Risk = keyof typeof RANK;

/**
 * The risk a pipeline must acknowledge for a reference-only method: the worst of its `risk` and of every
 * param-dependent effect (`effects`, worst case: a call may send any value).
 */
export function referenceRisk(m: MethodInfo): Risk {
  let worst: Risk = m.risk;
  for (const e of m.effects ?? []) if (RANK[e.risk] > RANK[worst]) worst = e.risk;
  return worst;
}

/**
 * A method of the reference catalog that no curated pack holds (documented, classified by the importer, not
 * reviewed by a person for pipelines) may be called only when the pipeline acknowledges its risk at the top level:
 * `allow: [{ method, risk }]`. The acknowledged risk may not be below the reference's (`risk` and effects); an
 * entry naming an unknown method is an error, one naming a curated method a warning (it needs none). Curated
 * methods follow `packs` (rule method-outside-packs). A destructive reference method still needs
 * `--confirm-destructive` at run time, as a curated one does.
 */
export const referenceRiskRule: Rule = {
  name: 'reference-risk',
  description: 'reference-only method called without an acknowledgement (allow) of its reference risk',
  check(ctx) {
    const allow = ctx.p.pipeline.allow ?? [];
    const ack = new Map<string, { risk: Risk; index: number }>();
    const out: ReturnType<Rule['check']> = [];
    allow.forEach((a, i) => {
      const m = ctx.catalog.method(a.method);
      if (!m) {
        out.push(ctx.at(['allow', i, 'method'], `allow: unknown method "${a.method}" (not in the reference catalog)`));
        return;
      }
      if (m.pack) {
        out.push(
          ctx.at(['allow', i, 'method'], `allow: "${m.name}" is curated (pack "${m.pack}"); it needs no allow entry`, {
            severity: 'warning',
          }),
        );
        return;
      }
      const need = referenceRisk(m);
      if (RANK[a.risk] < RANK[need])
        out.push(
          ctx.at(
            ['allow', i, 'risk'],
            `allow: "${m.name}" acknowledged as ${a.risk}, below its reference risk ${need} (${m.risk_source ?? 'heuristic'}); acknowledge it with risk: ${need}`,
          ),
        );
      ack.set(m.name.toLowerCase(), { risk: a.risk, index: i });
    });
    ctx.p.pipeline.steps.forEach((s, i) => {
      const m = ctx.methodOf(s);
      if (!m || m.pack) return;
      if (ack.has(m.name.toLowerCase())) return;
      const need = referenceRisk(m);
      out.push(
        ctx.at(
          ['steps', i, 'method'],
          `"${m.name}" is a reference-only method (in no curated pack; reference risk: ${need}, ${m.risk_source ?? 'heuristic'}); acknowledge it at the top level: allow: [{ method: ${m.name}, risk: ${need} }]`,
        ),
      );
    });
    return out;
  },
};
