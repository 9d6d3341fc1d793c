/**
 * Static cost analysis of one CEL expression, for `check`: finds what is provably too costly before a run starts.
 * Run-time metering (exprLimits.ts) stops everything else; this only refuses what is certain to be wasteful, so that
 * shipped pipelines check clean:
 * - a comprehension inside another comprehension's body, both over lists that are not provably small, where the inner
 *   list does not come from the outer element (n × m iterations: a portal-sized list against itself);
 * - a literal `matches` pattern RE2 rejects (CEL's regular expressions are RE2);
 * - a value that grows exponentially through `cel.bind` (`cel.bind(b, a + a, cel.bind(c, b + b, …))`).
 */
import { Environment } from '@marcbachmann/cel-js';
import { EXPRESSION_LIMITS } from './exprLimits.js';
import { re2PatternProblem } from './exprRegex.js';

/** What the analysis may assume about the names an expression reads. */
export interface CostScope {
  /** Step ids whose `result` is provably small: a single method call without `all: true` and without `foreach`. */
  smallSteps: ReadonlySet<string>;
}

/** One problem: message and character offset inside the expression. */
export interface CostProblem {
  message: string;
  start: number;
}

/** Largest list literal or `seq(n)` counted as small (elements). */
export const SMALL_LIST = 1000;
/** Growth factor of a bound value past which `cel.bind` doubling is refused (≈ the per-value size cap). */
const MAX_GROWTH = EXPRESSION_LIMITS.valueSize;

const COMPREHENSIONS = new Set(['map', 'filter', 'all', 'exists', 'exists_one']);

interface Node {
  op: string;
  args: unknown;
  start: number;
  end: number;
}

const parser = new Environment({
  unlistedVariablesAreDyn: true,
  enableOptionalTypes: true,
  homogeneousAggregateLiterals: false,
});

/**
 * Problems of `expr` that make it provably too costly. An expression that does not parse yields none (the
 * expression-type rule reports it).
 */
export function expressionCostProblems(expr: string, scope: CostScope): CostProblem[] {
  let ast: Node;
  try {
    ast = parser.parse(expr).ast as unknown as Node;
  } catch {
    return [];
  }
  const out: CostProblem[] = [];
  nestedComprehensions(ast, expr, scope, out);
  regexLiterals(ast, out);
  bindGrowth(ast, new Map(), out);
  return out;
}

const isNode = (x: unknown): x is Node => !!x && typeof x === 'object' && typeof (x as Node).op === 'string';

function children(n: Node): Node[] {
  const out: Node[] = [];
  const add = (x: unknown) => {
    if (isNode(x)) out.push(x);
    else if (Array.isArray(x)) for (const y of x) add(y);
  };
  add(n.args);
  return out;
}

/** `recv.map(x, …)`-style macro call: [name, receiver, iteration variable, body nodes]. */
function asComprehension(n: Node): { name: string; receiver: Node; iterVar: string; body: Node[] } | undefined {
  if (n.op !== 'rcall' || !Array.isArray(n.args)) return undefined;
  const [name, receiver, args] = n.args as [unknown, unknown, unknown];
  if (typeof name !== 'string' || !COMPREHENSIONS.has(name) || !isNode(receiver) || !Array.isArray(args))
    return undefined;
  const [v, ...body] = args as Node[];
  if (v?.op !== 'id' || typeof v.args !== 'string') return undefined;
  return { name, receiver, iterVar: v.args, body };
}

/** The root name a value is read from (`steps.x.result[0].F` → steps), following selections and receivers. */
function rootIds(n: Node): string[] {
  switch (n.op) {
    case 'id':
      return [String(n.args)];
    case '.':
    case '.?':
    case '[]':
    case '[?]':
      return rootIds((n.args as Node[])[0]!);
    case 'rcall': {
      const c = asComprehension(n);
      return rootIds(c ? c.receiver : ((n.args as unknown[])[1] as Node));
    }
    case 'call':
      // helpers over one record (phones(l.PHONE), default(l.X, [])) read from their arguments
      return ((n.args as unknown[])[1] as Node[]).flatMap(rootIds);
    default:
      return [];
  }
}

/** True when `n` certainly evaluates to a small list: a short literal, `seq(k)` with small k, one page of a step. */
function provablySmall(n: Node, scope: CostScope): boolean {
  if (n.op === 'list') return (n.args as unknown[]).length <= SMALL_LIST;
  if (n.op === 'map') return (n.args as unknown[]).length <= SMALL_LIST;
  if (n.op === 'call' && (n.args as unknown[])[0] === 'seq') {
    const a = ((n.args as unknown[])[1] as Node[])[0];
    return !!a && a.op === 'value' && typeof a.args === 'bigint' && a.args <= BigInt(SMALL_LIST);
  }
  const c = n.op === 'rcall' ? asComprehension(n) : undefined;
  if (c && (c.name === 'map' || c.name === 'filter')) return provablySmall(c.receiver, scope);
  // steps.<id>.result of a single call, item (one element of a foreach) and trigger (one event payload)
  const path = selectionPath(n);
  if (path[0] === 'item' || path[0] === 'trigger') return true;
  return path[0] === 'steps' && path.length >= 3 && path[2] === 'result' && scope.smallSteps.has(path[1]!);
}

function selectionPath(n: Node): string[] {
  if (n.op === 'id') return [String(n.args)];
  if ((n.op === '.' || n.op === '.?') && Array.isArray(n.args)) {
    const inner = selectionPath(n.args[0] as Node);
    return inner.length ? [...inner, String(n.args[1])] : [];
  }
  return [];
}

function describe(expr: string, n: Node, max = 40): string {
  const s = expr.slice(n.start, n.end).replace(/\s+/g, ' ');
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function nestedComprehensions(root: Node, expr: string, scope: CostScope, out: CostProblem[]): void {
  type Outer = { name: string; iterVar: string; receiver: Node; small: boolean };
  const walk = (n: Node, outers: Outer[]) => {
    const c = asComprehension(n);
    if (!c) {
      for (const k of children(n)) walk(k, outers);
      return;
    }
    const small = provablySmall(c.receiver, scope);
    const big = outers.find((o) => !o.small);
    if (big && !small) {
      const roots = rootIds(c.receiver);
      const fromOuter = roots.some((r) => outers.some((o) => o.iterVar === r));
      if (!fromOuter)
        out.push({
          message: `\`${c.name}\` over \`${describe(expr, c.receiver)}\` runs once per element of \`${big.name}\` over \`${describe(expr, big.receiver)}\`: nested comprehensions over lists that are not provably small cost n × m iterations (a run stops an expression at ${EXPRESSION_LIMITS.iterations.toLocaleString('en-US')} iterations); build a lookup once outside (cel.bind with countBy/groupSum/pluck) or iterate a field of \`${big.iterVar}\``,
          start: c.receiver.start,
        });
    }
    walk(c.receiver, outers);
    const inner = [...outers, { name: c.name, iterVar: c.iterVar, receiver: c.receiver, small }];
    for (const b of c.body) walk(b, inner);
  };
  walk(root, []);
}

function regexLiterals(root: Node, out: CostProblem[]): void {
  const visit = (n: Node) => {
    let pattern: Node | undefined;
    if (n.op === 'rcall' && (n.args as unknown[])[0] === 'matches') pattern = ((n.args as unknown[])[2] as Node[])[0];
    if (n.op === 'call' && (n.args as unknown[])[0] === 'matches') pattern = ((n.args as unknown[])[1] as Node[])[1];
    if (pattern && pattern.op === 'value' && typeof pattern.args === 'string') {
      const why = re2PatternProblem(pattern.args);
      if (why) out.push({ message: why, start: pattern.start });
    }
    for (const k of children(n)) visit(k);
  };
  visit(root);
}

/** Size multiplier of a value relative to its literals: `a + a` doubles, `cel.bind` carries it to its variable. */
function bindGrowth(n: Node, vars: Map<string, number>, out: CostProblem[]): number {
  if (n.op === 'id') return vars.get(String(n.args)) ?? 1;
  if (n.op === '+') {
    const [l, r] = n.args as Node[];
    return Math.min(Number.MAX_SAFE_INTEGER, bindGrowth(l!, vars, out) + bindGrowth(r!, vars, out));
  }
  if (n.op === 'rcall' && (n.args as unknown[])[0] === 'bind') {
    const [v, val, exp] = (n.args as unknown[])[2] as Node[];
    if (v?.op === 'id' && val && exp) {
      const g = bindGrowth(val, vars, out);
      if (g > MAX_GROWTH && !out.some((p) => p.message.startsWith('`cel.bind`'))) {
        out.push({
          message: `\`cel.bind\` value \`${String(v.args)}\` grows ${g.toLocaleString('en-US')}-fold by repeated concatenation (at most ${MAX_GROWTH.toLocaleString('en-US')} elements in one value)`,
          start: val.start,
        });
      }
      const inner = new Map(vars);
      inner.set(String(v.args), g);
      return bindGrowth(exp, inner, out);
    }
  }
  for (const k of children(n)) bindGrowth(k, vars, out);
  return 1;
}

/** Depth of nested comprehension macros in a cel-js AST. */
export function comprehensionNesting(ast: unknown): number {
  const walk = (n: unknown): number => {
    if (!n || typeof n !== 'object') return 0;
    if (Array.isArray(n)) return Math.max(0, ...n.map(walk));
    const node = n as { op?: string; args?: unknown };
    let inner = walk(node.args);
    if (node.op === 'rcall' && Array.isArray(node.args) && COMPREHENSIONS.has(String(node.args[0]))) inner += 1;
    return inner;
  };
  return walk(ast);
}

/** Number of nodes of a cel-js AST. */
export function countNodes(ast: unknown): number {
  if (!ast || typeof ast !== 'object') return 0;
  if (Array.isArray(ast)) return ast.reduce<number>((a, x) => a + countNodes(x), 0);
  return 1 + countNodes((ast as { args?: unknown }).args);
}
