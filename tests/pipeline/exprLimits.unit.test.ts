/**
 * Bounds of pipeline expressions (src/pipeline/exprLimits.ts, exprRegex.ts, exprCost.ts): `matches` is RE2, every
 * evaluation is metered per expression and per run, and the static analysis behind `check`'s expression-cost rule.
 * Sizes here stay small enough that the unbounded evaluator would finish (and fail the assertions) rather than hang;
 * the portal-sized cases run through the CLI in exprLimits.e2e.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { Evaluator, ExpressionError } from '../../src/pipeline/expr.js';
import { type CostScope, expressionCostProblems } from '../../src/pipeline/exprCost.js';
import { EXPRESSION_LIMITS, RunBudget } from '../../src/pipeline/exprLimits.js';

const rows = (n: number) => Array.from({ length: n }, (_, i) => ({ ID: i, TITLE: `Deal ${i}`, OPPORTUNITY: i * 10 }));

function thrown(f: () => unknown): ExpressionError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(ExpressionError);
    return err as ExpressionError;
  }
  throw new Error('expected an ExpressionError');
}

describe('matches() is RE2', () => {
  const ev = new Evaluator();
  const ctx = ev.context({ inputs: { title: 'Deal 42 (ООО Ромашка)' }, steps: {} });

  it('keeps CEL semantics: unanchored search, both call forms', () => {
    expect(ev.evaluate('inputs.title.matches("[0-9]+")', ctx)).toBe(true);
    expect(ev.evaluate('inputs.title.matches("^[0-9]+$")', ctx)).toBe(false);
    expect(ev.evaluate('matches(inputs.title, "(?i)ооо")', ctx)).toBe(true);
  });

  it('refuses what RE2 rejects with a clear error instead of running a backtracking engine', () => {
    expect(thrown(() => ev.evaluate('inputs.title.matches("^(?!Test)")', ctx)).message).toContain(
      'invalid RE2 regular expression "^(?!Test)": invalid or unsupported Perl syntax',
    );
    expect(thrown(() => ev.evaluate('inputs.title.matches("(a)\\\\1")', ctx)).message).toContain(
      'invalid RE2 regular expression',
    );
  });

  it('a pattern read from data is compiled like a literal one', () => {
    const c = ev.context({ inputs: { title: 'aaaa', p: '(?<=a)b' }, steps: {} });
    expect(thrown(() => ev.evaluate('inputs.title.matches(inputs.p)', c)).message).toContain('invalid RE2');
  });
});

describe('evaluation budgets', () => {
  it('a single comprehension over 100,000 rows fits the defaults', () => {
    const ev = new Evaluator();
    const ctx = ev.context({ inputs: { rows: rows(100_000) }, steps: {} });
    const n = ev.evaluate(
      'inputs.rows.map(r, {"id": r.ID, "title": r.TITLE + "!"}).filter(x, x.id % 2 == 0).size()',
      ctx,
    );
    expect(n).toBe(50_000);
    expect(ev.budget.used.iterations).toBe(200_000); // 100,000 for map + 100,000 for filter
    expect(ev.budget.used.evaluations).toBe(1);
  });

  it('a nested comprehension stops at the iteration cap, naming the expression and the limit', () => {
    const ev = new Evaluator();
    const ctx = ev.context({ inputs: { rows: rows(2000) }, steps: {} });
    const expr = 'inputs.rows.map(r, inputs.rows.filter(s, s.ID == r.ID).size())';
    const t = performance.now();
    const e = thrown(() => ev.evaluate(expr, ctx));
    expect(performance.now() - t).toBeLessThan(10_000);
    expect(e.message).toBe(
      `\`${expr}\`: expression exceeded 1,000,000 comprehension iterations (per-expression limit)`,
    );
    expect(e.limit?.measure).toBe('iterations');
    expect(e.limit?.limit).toBe(EXPRESSION_LIMITS.iterations);
  });

  it('names where the expression is written when the runner says', () => {
    const ev = new Evaluator();
    ev.limits = { ...EXPRESSION_LIMITS, steps: 1000 };
    ev.locate = (x) => (x.startsWith('inputs.rows') ? 'pipelines/p.yaml:12:9' : undefined);
    const ctx = ev.context({ inputs: { rows: rows(2000) }, steps: {} });
    expect(thrown(() => ev.evaluate('inputs.rows.map(r, r.ID)', ctx)).message).toBe(
      '`inputs.rows.map(r, r.ID)` (pipelines/p.yaml:12:9): expression exceeded 1,000 evaluation steps (per-expression limit)',
    );
  });

  it('caps the size of one value: strings doubled through cel.bind stop early', () => {
    const ev = new Evaluator();
    const ctx = ev.context({ inputs: { s: 'xxxxxxxxxx' }, steps: {} });
    let expr = 'v0';
    for (let i = 1; i <= 12; i++) expr = `cel.bind(v${i - 1}, v${i} + v${i} + v${i} + v${i}, ${expr})`;
    expr = `cel.bind(v12, inputs.s, ${expr}).size()`;
    const e = thrown(() => ev.evaluate(expr, ctx));
    expect(e.message).toContain('expression exceeded 5,000,000 elements in one value');
  });

  it('counts allocation, not references: a list handed back by a helper is counted once', () => {
    const ev = new Evaluator();
    ev.limits = { ...EXPRESSION_LIMITS, allocated: 100_000 };
    const ctx = ev.context({ inputs: { rows: rows(5000) }, steps: {} });
    expect(ev.evaluate('inputs.rows.map(r, default(inputs.rows, []).size()).size()', ctx)).toBe(5000);
    expect(ev.budget.used.allocated).toBeLessThan(20_000);
    const e = thrown(() => ev.evaluate('inputs.rows.map(r, inputs.rows + [r]).size()', ctx));
    expect(e.message).toContain('expression exceeded 100,000 elements allocated (per-expression limit)');
  });

  it('caps wall time', () => {
    const ev = new Evaluator();
    ev.limits = { ...EXPRESSION_LIMITS, ms: 20, iterations: 1e9, steps: 1e12 };
    const ctx = ev.context({ inputs: { rows: rows(3000) }, steps: {} });
    const t = performance.now();
    const e = thrown(() => ev.evaluate('inputs.rows.map(r, inputs.rows.exists(s, s.ID < 0))', ctx));
    expect(e.message).toContain('expression exceeded 20 ms of evaluation time');
    expect(performance.now() - t).toBeLessThan(2000);
  });

  it('the run budget is shared by every evaluation of the run (and across evaluators given the same object)', () => {
    const budget = new RunBudget({ steps: 1e9, iterations: 25_000, allocated: 1e9, ms: 60_000 });
    const ev = new Evaluator();
    ev.budget = budget;
    const ctx = ev.context({ inputs: { rows: rows(10_000) }, steps: {} });
    expect(ev.evaluate('inputs.rows.filter(r, r.ID > 5).size()', ctx)).toBe(9994);
    expect(ev.evaluate('inputs.rows.exists(r, r.ID == 9999)', ctx)).toBe(true);
    const sub = new Evaluator();
    sub.budget = budget;
    const e = thrown(() =>
      sub.evaluate('inputs.rows.map(r, r.ID).size()', sub.context({ inputs: { rows: rows(10_000) }, steps: {} })),
    );
    expect(e.message).toContain(
      'expression exceeded 25,000 comprehension iterations (per-run budget, shared by every expression of the run)',
    );
    expect(budget.used.evaluations).toBe(3);
    // an exhausted budget refuses the next evaluation outright
    expect(thrown(() => ev.evaluate('inputs.rows.all(r, r.ID >= 0)', ctx)).limit?.scope).toBe('run');
  });
});

describe('static cost analysis (check rule expression-cost)', () => {
  const scope: CostScope = { smallSteps: new Set(['users']) };
  const problems = (x: string) => expressionCostProblems(x, scope).map((p) => p.message);

  it('refuses a comprehension nested over lists that are not provably small', () => {
    const p = problems('steps.deals.result.filter(d, !steps.contacts.result.exists(c, c.ID == d.CONTACT_ID))');
    expect(p).toHaveLength(1);
    expect(p[0]).toContain('`exists` over `steps.contacts.result` runs once per element of `filter`');
    expect(problems('inputs.rows.map(r, inputs.rows.filter(s, s.ID == r.ID).size())')).toHaveLength(1);
    expect(problems('cel.bind(all, inputs.rows, all.map(r, all.exists(s, s.ID == r.ID)))')).toHaveLength(1);
  });

  it('lets through what is linear: fields of the element, short literals, one page of a step, chains', () => {
    expect(problems('steps.leads.result.filter(l, phones(l.PHONE).exists(p, p in ph))')).toEqual([]);
    expect(problems('steps.deals.result.filter(d, ["NEW", "WON"].exists(s, s == d.STAGE_ID))')).toEqual([]);
    expect(problems('steps.deals.result.filter(d, steps.users.result.exists(u, u.ID == d.ASSIGNED_BY_ID))')).toEqual(
      [],
    );
    expect(problems('steps.deals.result.filter(d, d.X > 1).map(d, d.ID).exists(i, i == 3)')).toEqual([]);
    expect(problems('seq(10).map(i, seq(10).map(j, i * j))')).toEqual([]);
  });

  it('refuses literal patterns RE2 rejects and exponential cel.bind growth', () => {
    expect(problems('item.TITLE.matches("^(?=A)")')[0]).toContain('invalid RE2 regular expression');
    expect(problems('matches(item.TITLE, "(x)\\\\1")')[0]).toContain('invalid RE2 regular expression');
    expect(problems('item.TITLE.matches("^Deal [0-9]+$")')).toEqual([]);
    let expr = 'v0';
    for (let i = 1; i <= 12; i++) expr = `cel.bind(v${i - 1}, v${i} + v${i} + v${i} + v${i}, ${expr})`;
    expect(problems(`cel.bind(v12, "x", ${expr})`)[0]).toContain('grows 16,777,216-fold');
    expect(problems('cel.bind(a, "x", cel.bind(b, a + a, b + b))')).toEqual([]);
  });
});
