/**
 * Run-time bounds of pipeline expressions. CEL has no loops, but comprehensions (`map`, `filter`, `all`, `exists`,
 * `exists_one`) nest, `cel.bind` doubles strings and lists, and helpers build lists: without bounds one expression
 * over portal data can take minutes and gigabytes. Each evaluation is metered and stopped at the first exceeded cap,
 * and a per-run {@link RunBudget} bounds the sum over all evaluations of one run.
 *
 * Units:
 * - steps: CEL AST node evaluations (a field access, an operator, a function call, one comprehension step each);
 * - iterations: elements visited by comprehensions (each element of each `map`/`filter`/`all`/... once);
 * - size: of one produced value — list elements, map entries, string characters, bytes;
 * - allocated: the sum of sizes of all values produced by operators, calls, literals and comprehensions;
 * - ms: wall-clock milliseconds of evaluation.
 *
 * cel-js (8.x) has parse-time limits only, so metering wraps the evaluate hook of each parsed AST node
 * ({@link instrumentAst}); a node count is a cheap counter, the clock is read every 1024 steps.
 */

/** Caps of one expression evaluation. */
export interface ExpressionLimits {
  /** AST node evaluations. */
  steps: number;
  /** Comprehension element visits. */
  iterations: number;
  /** Size of any single produced value (list elements, map entries, string characters). */
  valueSize: number;
  /** Sum of sizes of all produced values. */
  allocated: number;
  /** Wall-clock milliseconds. */
  ms: number;
}

/**
 * Defaults for CRM data: one `map`/`filter` over 100,000 rows with a body of a few dozen nodes fits easily
 * (≈ 3 M steps, 100 k iterations); a comprehension nested inside another over such lists (10¹⁰ iterations) does not.
 */
export const EXPRESSION_LIMITS: Readonly<ExpressionLimits> = Object.freeze({
  steps: 20_000_000,
  iterations: 1_000_000,
  valueSize: 5_000_000,
  allocated: 20_000_000,
  ms: 10_000,
});

/** Caps of one run: sums over every evaluation of the run (size has no run-wide sense and is per value). */
export type RunLimits = Omit<ExpressionLimits, 'valueSize'>;

/** Default per-run caps: a 10,000-item foreach evaluating a dozen small expressions per item uses < 1 % of them. */
export const RUN_LIMITS: Readonly<RunLimits> = Object.freeze({
  steps: 500_000_000,
  iterations: 50_000_000,
  allocated: 500_000_000,
  ms: 120_000,
});

type Measure = keyof RunLimits | 'valueSize';

const WHAT: Record<Measure, string> = {
  steps: 'evaluation steps',
  iterations: 'comprehension iterations',
  valueSize: 'elements in one value',
  allocated: 'elements allocated',
  ms: 'ms of evaluation time',
};

/** Thrown when an evaluation exceeds a cap; `measure` and `limit` say which. The Evaluator adds the expression. */
export class ExpressionLimitError extends Error {
  constructor(
    readonly measure: Measure,
    readonly limit: number,
    readonly scope: 'expression' | 'run',
  ) {
    super(
      `expression exceeded ${limit.toLocaleString('en-US')} ${WHAT[measure]} (${scope === 'run' ? 'per-run budget, shared by every expression of the run' : 'per-expression limit'})`,
    );
    this.name = 'ExpressionLimitError';
  }
}

/**
 * The budget of one run, shared by every evaluation of it (sub-pipelines included when the runner passes the same
 * object). `used` grows after each evaluation; evaluations start with what is left.
 */
export class RunBudget {
  readonly used: RunLimits & { evaluations: number } = { steps: 0, iterations: 0, allocated: 0, ms: 0, evaluations: 0 };
  constructor(
    readonly limits: Readonly<RunLimits> = RUN_LIMITS,
    readonly perExpression: Readonly<ExpressionLimits> = EXPRESSION_LIMITS,
  ) {}
}

/** Size of a produced value in the units above (0 for scalars). */
export function valueSize(v: unknown): number {
  if (typeof v === 'string') return v.length;
  if (Array.isArray(v) || v instanceof Uint8Array) return v.length;
  if (v instanceof Map || v instanceof Set) return v.size;
  return 0;
}

/** Counters of one evaluation against the caps that apply to it (the smaller of per-expression and run remainder). */
export class EvalMeter {
  steps = 0;
  iterations = 0;
  allocated = 0;
  private readonly started = performance.now();
  private readonly cap: RunLimits;
  private readonly capScope: Record<keyof RunLimits, 'expression' | 'run'>;
  private readonly deadline: number;
  private readonly counted = new WeakSet<object>();

  constructor(
    private readonly budget: RunBudget,
    private readonly exprLimits: Readonly<ExpressionLimits> = budget.perExpression,
  ) {
    const cap = {} as RunLimits;
    const capScope = {} as Record<keyof RunLimits, 'expression' | 'run'>;
    for (const k of ['steps', 'iterations', 'allocated', 'ms'] as const) {
      const left = budget.limits[k] - budget.used[k];
      if (left < exprLimits[k]) {
        cap[k] = Math.max(0, left);
        capScope[k] = 'run';
      } else {
        cap[k] = exprLimits[k];
        capScope[k] = 'expression';
      }
    }
    this.cap = cap;
    this.capScope = capScope;
    this.deadline = this.started + cap.ms;
    if (cap.steps <= 0 || cap.iterations <= 0 || cap.allocated <= 0 || cap.ms <= 0)
      for (const k of ['steps', 'iterations', 'allocated', 'ms'] as const)
        if (cap[k] <= 0) throw new ExpressionLimitError(k, budget.limits[k], 'run');
  }

  private fail(k: keyof RunLimits): never {
    throw new ExpressionLimitError(
      k,
      this.capScope[k] === 'run' ? this.budget.limits[k] : this.cap[k],
      this.capScope[k],
    );
  }

  /** One AST node evaluation; reads the clock every 1024 steps. */
  step(): void {
    if (++this.steps > this.cap.steps) this.fail('steps');
    if ((this.steps & 1023) === 0 && performance.now() > this.deadline) this.fail('ms');
  }

  /** One comprehension element visit. */
  iteration(): void {
    if (++this.iterations > this.cap.iterations) this.fail('iterations');
  }

  /** A value produced by an operator, call, literal or comprehension (an object returned again is counted once). */
  produced(v: unknown): void {
    const n = valueSize(v);
    if (n === 0) return;
    if (typeof v === 'object' && v !== null) {
      // default(inputs.rows, []) and the like hand back an existing list: no new allocation
      if (this.counted.has(v)) return;
      this.counted.add(v);
    }
    if (n > this.exprLimits.valueSize)
      throw new ExpressionLimitError('valueSize', this.exprLimits.valueSize, 'expression');
    this.allocated += n;
    if (this.allocated > this.cap.allocated) this.fail('allocated');
  }

  /** Adds this evaluation to the run's usage (also after a failed evaluation). */
  finish(): void {
    const u = this.budget.used;
    u.steps += this.steps;
    u.iterations += this.iterations;
    u.allocated += this.allocated;
    u.ms += performance.now() - this.started;
    u.evaluations += 1;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// AST instrumentation (cel-js 8 internals: ASTNode { op, args, meta: { evaluate, alternate?, macro? }, evaluate() })

interface CelNode {
  op: string;
  args: unknown;
  readonly meta: { evaluate: EvalFn; alternate?: CelNode; macro?: { evaluate: EvalFn } & Record<string, unknown> };
  evaluate: EvalFn;
}
type EvalFn = (this: unknown, ev: unknown, ast: unknown, ctx: unknown) => unknown;

function isNode(x: unknown): x is CelNode {
  return !!x && typeof x === 'object' && typeof (x as CelNode).op === 'string' && 'meta' in (x as object);
}

/** Node kinds whose result is a newly built value (counted as allocated). */
const PRODUCERS = new Set(['+', 'call', 'rcall', 'list', 'map', 'comprehension']);

/** Internal name the receiver form `s.matches(p)` is routed to, so that it runs on RE2 (see exprRegex.ts). */
export const RE2_MATCHES = 're2Matches';

/**
 * Routes `s.matches(p)` to the RE2 overload registered as {@link RE2_MATCHES}: cel-js's built-in uses a JS RegExp
 * (backtracking) and cannot be re-registered. Call on a freshly parsed AST, before it is checked or evaluated.
 */
export function routeMatchesToRe2(ast: unknown): void {
  walkNodes(ast, (n) => {
    if (n.op === 'rcall' && Array.isArray(n.args) && n.args[0] === 'matches') n.args[0] = RE2_MATCHES;
  });
}

/**
 * Wraps the evaluate hook of every node of a parsed AST so that `meter()` (the current evaluation's meter, or
 * undefined to run unmetered) sees each step, comprehension iteration and produced value.
 * @throws Error when the AST does not have the cel-js 8 shape this relies on (a dependency upgrade changed it)
 */
export function instrumentAst(ast: unknown, meter: () => EvalMeter | undefined): void {
  if (!isNode(ast) || typeof ast.meta?.evaluate !== 'function')
    throw new Error('cel-js AST shape changed: expression metering needs updating');
  const iterationSteps = new Set<CelNode>();
  walkNodes(ast, (n) => {
    if (n.op === 'comprehension' && n.args && typeof n.args === 'object') {
      const step = (n.args as { step?: unknown }).step;
      if (isNode(step)) iterationSteps.add(step);
    }
  });
  walkNodes(ast, (n) => {
    const m = n.meta;
    const node = n;
    const iterates = iterationSteps.has(n);
    const counts = PRODUCERS.has(n.op);
    n.evaluate = function meteredEvaluate(ev, a, ctx) {
      const mt = meter();
      if (mt) {
        mt.step();
        if (iterates) mt.iteration();
      }
      let r: unknown;
      if (m.alternate) return m.alternate.evaluate(ev, m.alternate, ctx);
      if (m.macro) r = m.macro.evaluate(ev, m.macro, ctx);
      else r = m.evaluate.call(node, ev, a, ctx);
      if (mt && counts) mt.produced(r);
      return r;
    };
  });
}

/** Visits every AST node once: args (arrays, nodes, comprehension objects), macro alternates and bind macros. */
function walkNodes(root: unknown, visit: (n: CelNode) => void): void {
  const seen = new Set<unknown>();
  const walk = (x: unknown, depth: number): void => {
    if (!x || typeof x !== 'object' || seen.has(x) || depth > 200) return;
    seen.add(x);
    if (Array.isArray(x)) {
      for (const y of x) walk(y, depth + 1);
      return;
    }
    if (isNode(x)) {
      visit(x);
      walk(x.args, depth + 1);
      const m = x.meta;
      if (m?.alternate) walk(m.alternate, depth + 1);
      if (m?.macro) for (const v of Object.values(m.macro)) if (v && typeof v === 'object') walk(v, depth + 1);
      return;
    }
    const proto = Object.getPrototypeOf(x);
    if (proto === Object.prototype || proto === null) for (const v of Object.values(x)) walk(v, depth + 1);
  };
  walk(root, 0);
}
