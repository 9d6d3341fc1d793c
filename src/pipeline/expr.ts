/**
 * Expressions in pipelines: one language, CEL (`@marcbachmann/cel-js`), non-Turing-complete and type-checkable.
 *
 * Two explicit forms, nothing else is ever interpreted:
 * - a whole field `${{ expr }}` → the typed value of `expr` (int, double, string, bool, list, map, timestamp);
 * - a template `{ $template: "Deal {{ item.TITLE }}" }` → text, each `{{ expr }}` converted to a string.
 * A value read from the portal never becomes request syntax: it stays a value of its field.
 *
 * Limits: an expression is at most {@link MAX_EXPR_LENGTH} characters and {@link MAX_AST_NODES} nodes, and its
 * estimated evaluation cost (nodes × largest list size ^ comprehension nesting) at most {@link MAX_EVAL_COST}.
 * Every evaluation is metered (steps, comprehension iterations, produced sizes, wall time) per expression and per
 * run: see exprLimits.ts. `matches` is RE2 (linear time), as the CEL language definition says: see exprRegex.ts.
 */
import { Environment } from '@marcbachmann/cel-js';
import { comprehensionNesting, countNodes } from './exprCost.js';
import { duplicateGroups, duplicatePairs, field, multiValues, normalizePhone } from './exprDuplicates.js';
import {
  EvalMeter,
  ExpressionLimitError,
  type ExpressionLimits,
  instrumentAst,
  RE2_MATCHES,
  RunBudget,
  routeMatchesToRe2,
} from './exprLimits.js';
import { re2Matches } from './exprRegex.js';

export { comprehensionNesting };

/** Longest accepted expression text (characters). */
export const MAX_EXPR_LENGTH = 2048;
/** Most AST nodes in one expression. */
export const MAX_AST_NODES = 1000;
/** Most nested comprehensions (map/filter/all/exists inside each other). */
export const MAX_COMPREHENSION_NESTING = 2;
/** Ceiling of the estimated evaluation cost (abstract steps) before an expression is refused at run time. */
export const MAX_EVAL_COST = 50_000_000;

const EXPR_RE = /^\$\{\{([\s\S]*)\}\}$/;
const PLACEHOLDER_RE = /\{\{([\s\S]*?)\}\}/g;

/** A `{ $template: "..." }` value. */
export interface TemplateValue {
  $template: string;
}

/** One expression found in a value: its text, the path of the field and the character offset inside that field. */
export interface FoundExpression {
  expr: string;
  /** Path of the field holding it (relative to where collection started). */
  path: (string | number)[];
  /** Offset of `expr` inside the YAML string scalar (for column computation). */
  offset: number;
  kind: 'expression' | 'template';
}

/** True when `v` is a whole-field expression string `${{ ... }}`. */
export function isExpression(v: unknown): v is string {
  return typeof v === 'string' && EXPR_RE.test(v);
}

/** True when `v` is a `{ $template: string }` object (and nothing else). */
export function isTemplate(v: unknown): v is TemplateValue {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === '$template' && typeof (v as TemplateValue).$template === 'string';
}

/** The CEL text inside `${{ ... }}` and its offset within the string. */
export function expressionBody(s: string): { expr: string; offset: number } {
  const m = EXPR_RE.exec(s);
  if (!m) return { expr: s, offset: 0 };
  const inner = m[1] ?? '';
  const lead = inner.length - inner.trimStart().length;
  return { expr: inner.trim(), offset: 3 + lead };
}

/** Placeholders of a template, each with its offset inside the template text. */
export function templatePlaceholders(t: string): { expr: string; offset: number; start: number; end: number }[] {
  const out: { expr: string; offset: number; start: number; end: number }[] = [];
  for (const m of t.matchAll(PLACEHOLDER_RE)) {
    const inner = m[1] ?? '';
    const lead = inner.length - inner.trimStart().length;
    out.push({
      expr: inner.trim(),
      offset: (m.index ?? 0) + 2 + lead,
      start: m.index ?? 0,
      end: (m.index ?? 0) + m[0].length,
    });
  }
  return out;
}

/** Every expression and template placeholder inside a value (params, outputs, with), with its path. */
export function collectExpressions(value: unknown, path: (string | number)[] = []): FoundExpression[] {
  const out: FoundExpression[] = [];
  const walk = (v: unknown, p: (string | number)[]) => {
    if (isExpression(v)) {
      const b = expressionBody(v);
      out.push({ expr: b.expr, path: p, offset: b.offset, kind: 'expression' });
    } else if (isTemplate(v)) {
      for (const ph of templatePlaceholders(v.$template))
        out.push({ expr: ph.expr, path: [...p, '$template'], offset: ph.offset, kind: 'template' });
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) walk(v[i], [...p, i]);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
    }
  };
  walk(value, path);
  return out;
}

/** Strings that look like an attempt to interpolate (`${{` not spanning the whole field). */
export function findPartialInterpolations(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [];
  const walk = (v: unknown, p: (string | number)[]) => {
    if (typeof v === 'string') {
      if (v.includes('${{') && !isExpression(v)) out.push(p);
    } else if (isTemplate(v)) {
      // templates are the explicit text form
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) walk(v[i], [...p, i]);
    } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, k]);
  };
  walk(value, path);
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Time-zone aware date helpers (no dependency: Intl does the work)

const dtfCache = new Map<string, Intl.DateTimeFormat>();
function dtf(tz: string): Intl.DateTimeFormat {
  let f = dtfCache.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    dtfCache.set(tz, f);
  }
  return f;
}

/** Wall-clock parts of `d` in time zone `tz`. @throws RangeError for an unknown zone */
const partsCache = new Map<string, { y: number; m: number; d: number; h: number; mi: number; s: number }>();

export function zonedParts(d: Date, tz: string): { y: number; m: number; d: number; h: number; mi: number; s: number } {
  // a run evaluates the same few instants (now, now ± days) many times: memoise per second and zone
  const key = `${tz}|${Math.floor(d.getTime() / 1000)}`;
  const hit = partsCache.get(key);
  if (hit) return hit;
  if (partsCache.size > 5000) partsCache.clear();
  const v = zonedPartsUncached(d, tz);
  partsCache.set(key, v);
  return v;
}

function zonedPartsUncached(
  d: Date,
  tz: string,
): { y: number; m: number; d: number; h: number; mi: number; s: number } {
  const parts: Record<string, number> = {};
  for (const p of dtf(tz).formatToParts(d)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { y: parts.year!, m: parts.month!, d: parts.day!, h: parts.hour! % 24, mi: parts.minute!, s: parts.second! };
}

/** Offset of `tz` from UTC at instant `d`, in minutes (Moscow → 180). */
export function tzOffsetMinutes(d: Date, tz: string): number {
  const p = zonedParts(d, tz);
  const asUtc = Date.UTC(p.y, p.m - 1, p.d, p.h, p.mi, p.s);
  return Math.round((asUtc - Math.floor(d.getTime() / 1000) * 1000) / 60000);
}

const pad = (n: number, w = 2) => String(Math.abs(n)).padStart(w, '0');

/** `2026-11-23T18:52:07+03:00`: the instant in the portal's zone, the format Bitrix24 REST accepts for dates. */
export function formatDateTime(d: Date, tz: string): string {
  const p = zonedParts(d, tz);
  const off = tzOffsetMinutes(d, tz);
  const sign = off < 0 ? '-' : '+';
  return `${p.y}-${pad(p.m)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

/** `2026-11-23`: the calendar date of `d` in zone `tz`. */
export function formatDate(d: Date, tz: string): string {
  const p = zonedParts(d, tz);
  return `${p.y}-${pad(p.m)}-${pad(p.d)}`;
}

/** Midnight of the day containing `d` in zone `tz`, as an instant. */
export function startOfDay(d: Date, tz: string): Date {
  const p = zonedParts(d, tz);
  const guess = new Date(Date.UTC(p.y, p.m - 1, p.d));
  return new Date(guess.getTime() - tzOffsetMinutes(guess, tz) * 60000);
}

function parseDateish(v: unknown): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'string' && v) {
    const d = new Date(v);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new Error(`not a date: ${JSON.stringify(v)}`);
}

function toNumber(v: unknown): number {
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  if (v === null || v === undefined || v === '') return 0;
  throw new Error(`not a number: ${JSON.stringify(v)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Values crossing the CEL boundary

/** JS → CEL: integral numbers become BigInt (CEL ints); everything else keeps its shape. */
export function toCel(v: unknown): unknown {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (v && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array)) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toCel(x);
    return o;
  }
  return v;
}

/** CEL → JS: BigInt → number, timestamps → portal-zone ISO text, maps → objects. */
export function fromCel(v: unknown, tz: string): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return formatDateTime(v, tz);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (Array.isArray(v)) return v.map((x) => fromCel(x, tz));
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    for (const [k, x] of v) o[String(k)] = fromCel(x, tz);
    return o;
  }
  if (v && typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = fromCel(x, tz);
      return o;
    }
    if (typeof (v as { valueOf(): unknown }).valueOf === 'function') {
      const p = (v as { valueOf(): unknown }).valueOf();
      if (p !== v) return fromCel(p, tz);
    }
    if (typeof (v as { toString(): string }).toString === 'function') return String(v);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Environments

/** Options shared by the checking and evaluating environments. */
export interface ExprOptions {
  /** Portal time zone (IANA), default UTC (the CLI passes the pipeline's `timezone`, else `B24FLOW_TZ`). */
  timezone?: string;
  /** Fixed "now" (ms since epoch) so that plan, apply and resume see the same instant. */
  now?: number;
}

const TS = 'google.protobuf.Timestamp';

/** Registers the pure helpers on an environment. `tz()` and `now()` are read at call time. */
function registerHelpers(env: Environment, tz: () => string, now: () => number): Environment {
  const DAY = 86_400_000;
  return env
    .registerFunction(`daysAgo(int): ${TS}`, (n: bigint) => new Date(now() - Number(n) * DAY))
    .registerFunction(`hoursAgo(int): ${TS}`, (n: bigint) => new Date(now() - Number(n) * 3_600_000))
    .registerFunction(`daysAhead(int): ${TS}`, (n: bigint) => new Date(now() + Number(n) * DAY))
    .registerFunction(`addDays(${TS}, int): ${TS}`, (d: Date, n: bigint) => new Date(d.getTime() + Number(n) * DAY))
    .registerFunction(`startOfDay(${TS}): ${TS}`, (d: Date) => startOfDay(d, tz()))
    .registerFunction(`startOfWeek(${TS}): ${TS}`, (d: Date) => {
      const day = startOfDay(d, tz());
      const dow = (new Date(day.getTime() + tzOffsetMinutes(day, tz()) * 60000).getUTCDay() + 6) % 7; // Monday=0
      return startOfDay(new Date(day.getTime() - dow * DAY + 12 * 3_600_000), tz());
    })
    .registerFunction(`isoDate(${TS}): string`, (d: Date) => formatDate(d, tz()))
    .registerFunction(`isoDateTime(${TS}): string`, (d: Date) => formatDateTime(d, tz()))
    .registerFunction(`parseDate(string): ${TS}`, (s: string) => parseDateish(s))
    .registerFunction('daysSince(dyn): int', (v: unknown) =>
      BigInt(Math.floor((now() - parseDateish(v instanceof Date ? v : String(v)).getTime()) / DAY)),
    )
    .registerFunction('normalizePhone(string): string', (s: string) => normalizePhone(s))
    .registerFunction('phones(dyn): list<string>', (v: unknown) => [
      ...new Set(multiValues(v).map(normalizePhone).filter(Boolean)),
    ])
    .registerFunction('emails(dyn): list<string>', (v: unknown) => [
      ...new Set(multiValues(v).map((s) => s.trim().toLowerCase())),
    ])
    .registerFunction('allPhones(list): list<string>', (l: unknown[]) => [
      ...new Set(l.flatMap((x) => multiValues(field(x, 'PHONE')).map(normalizePhone)).filter(Boolean)),
    ])
    .registerFunction('allEmails(list): list<string>', (l: unknown[]) => [
      ...new Set(l.flatMap((x) => multiValues(field(x, 'EMAIL')).map((s) => s.trim().toLowerCase())).filter(Boolean)),
    ])
    .registerFunction('duplicateGroups(list): list<map<string, dyn>>', (l: unknown[]) => duplicateGroups(l))
    .registerFunction('duplicatePairs(list): list<map<string, dyn>>', (l: unknown[]) => duplicatePairs(l))
    .registerFunction('seq(int): list<int>', (n: bigint) => {
      if (n < 0n || n > 100_000n) throw new Error('seq(n) takes 0 ≤ n ≤ 100000');
      return Array.from({ length: Number(n) }, (_, i) => BigInt(i));
    })
    .registerFunction('num(dyn): double', (v: unknown) => toNumber(v))
    .registerFunction('sumBy(list, string): double', (l: unknown[], f: string) =>
      l.reduce<number>((a, x) => a + toNumber(field(x, f)), 0),
    )
    .registerFunction('groupSum(list, string, string): map<string, double>', (l: unknown[], k: string, f: string) => {
      const m = new Map<string, number>();
      for (const x of l)
        m.set(String(field(x, k) ?? ''), (m.get(String(field(x, k) ?? '')) ?? 0) + toNumber(field(x, f)));
      return m;
    })
    .registerFunction('countBy(list, string): map<string, int>', (l: unknown[], k: string) => {
      const m = new Map<string, bigint>();
      for (const x of l) m.set(String(field(x, k) ?? ''), (m.get(String(field(x, k) ?? '')) ?? 0n) + 1n);
      return m;
    })
    .registerFunction('roundRobin(list, int): dyn', (l: unknown[], i: bigint) => {
      if (l.length === 0) throw new Error('roundRobin over an empty list');
      return l[Number(((i % BigInt(l.length)) + BigInt(l.length)) % BigInt(l.length))];
    })
    .registerFunction('pluck(list, string): list', (l: unknown[], f: string) => l.map((x) => field(x, f) ?? null))
    .registerFunction(`string.${RE2_MATCHES}(string): bool`, (s: string, p: string) => re2Matches(s, p))
    .registerFunction('matches(string, string): bool', (s: string, p: string) => re2Matches(s, p))
    .registerFunction('default(dyn, dyn): dyn', (v: unknown, d: unknown) =>
      v === null || v === undefined || v === '' ? d : v,
    );
}

/** CEL type name of an input declaration type. */
export function celTypeOfInput(t: string): string {
  switch (t) {
    case 'int':
      return 'int';
    case 'double':
      return 'double';
    case 'bool':
      return 'bool';
    case 'list':
      return 'list';
    case 'map':
      return 'map';
    default:
      return 'string';
  }
}

/** Declared variable types for static checking. */
export interface CheckScope {
  /** input name → CEL type */
  inputs: Record<string, string>;
  /** step id → { result: CEL type, outputs: names } for steps the expression may reference */
  steps: Record<string, { result: string; outputs: string[] }>;
  /** CEL type of `item` when inside a foreach, else absent (item not declared) */
  item?: string;
  env: string[];
}

/** Result of a static check: the inferred type or an error with its range inside the expression. */
export type CheckResult =
  | { valid: true; type: string }
  | { valid: false; message: string; start: number; code?: string };

const limits = {
  maxAstNodes: MAX_AST_NODES,
  maxDepth: 64,
  maxListElements: 1000,
  maxMapEntries: 1000,
  maxCallArguments: 16,
};

/**
 * Type-checks `expr` against a scope without evaluating it. Also enforces the length, node and nesting caps.
 * Never throws: problems come back as `{ valid: false, message, start }` (start = character offset in expr).
 */
export function checkExpression(expr: string, scope: CheckScope): CheckResult {
  if (expr.length > MAX_EXPR_LENGTH)
    return { valid: false, message: `expression longer than ${MAX_EXPR_LENGTH} characters`, start: 0 };
  if (expr.trim() === '') return { valid: false, message: 'empty expression', start: 0 };
  const env = registerHelpers(
    new Environment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true, limits }),
    () => 'UTC',
    () => Date.now(),
  );
  const stepsSchema: Record<string, unknown> = {};
  for (const [id, s] of Object.entries(scope.steps)) {
    const outputs: Record<string, string> = {};
    for (const o of s.outputs) outputs[o] = 'dyn';
    stepsSchema[id] = { result: s.result, outputs: s.outputs.length ? outputs : 'map' };
  }
  const envSchema: Record<string, string> = {};
  for (const e of scope.env) envSchema[e] = 'string';
  try {
    env.registerVariable({ name: 'inputs', schema: Object.keys(scope.inputs).length ? scope.inputs : { _: 'dyn' } });
    env.registerVariable({
      name: 'steps',
      schema: (Object.keys(stepsSchema).length ? stepsSchema : { _: 'dyn' }) as Record<string, string>,
    });
    env.registerVariable({ name: 'env', schema: Object.keys(envSchema).length ? envSchema : { _: 'string' } });
    env.registerVariable('now', TS);
    env.registerVariable('trigger', 'map');
    if (scope.item) {
      env.registerVariable('item', scope.item);
      env.registerVariable('index', 'int');
    }
  } catch (err) {
    return { valid: false, message: `internal: ${(err as Error).message}`, start: 0 };
  }
  try {
    const parsed = env.parse(expr);
    routeMatchesToRe2(parsed.ast);
    const nest = comprehensionNesting(parsed.ast);
    if (nest > MAX_COMPREHENSION_NESTING)
      return {
        valid: false,
        message: `comprehensions nested ${nest} deep (at most ${MAX_COMPREHENSION_NESTING}): evaluation cost is capped`,
        start: 0,
      };
    const r = parsed.check();
    if (r.valid) return { valid: true, type: String(r.type) };
    const e = r.error as unknown as { message: string; range?: { start: number }; code?: string };
    return { valid: false, message: firstLine(e.message), start: e.range?.start ?? 0, code: e.code };
  } catch (err) {
    const e = err as { message: string; range?: { start: number }; summary?: string };
    return { valid: false, message: firstLine(e.summary ?? e.message), start: e.range?.start ?? 0 };
  }
}

function firstLine(s: string): string {
  // the receiver form of `matches` is routed to its RE2 overload: report it under the name the author wrote
  return s.split('\n')[0]!.trim().replaceAll(RE2_MATCHES, 'matches');
}

/** Variables an evaluation sees. Plain JS values; they are converted to CEL values once per object. */
export interface EvalScope {
  inputs: Record<string, unknown>;
  steps: Record<string, { result: unknown; outputs: Record<string, unknown> }>;
  item?: unknown;
  index?: number;
  env?: Record<string, string>;
  trigger?: Record<string, unknown>;
}

/**
 * Thrown when an expression fails at run time; `expr` is the text, never any secret. `limit` is set when a bound
 * (exprLimits.ts) stopped the evaluation: never "a value not known yet", it must fail the run.
 */
export class ExpressionError extends Error {
  constructor(
    message: string,
    readonly expr: string,
    readonly limit?: ExpressionLimitError,
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

type Compiled = { fn: (ctx: Record<string, unknown>) => unknown; nodes: number; nesting: number };

/**
 * Evaluates expressions for one run: a single environment, parsed expressions cached by text, converted step
 * results cached by identity. `now` is fixed for the whole run.
 *
 * Bounds: each evaluation is metered against {@link Evaluator.limits} and the run's {@link Evaluator.budget}; past a
 * cap it throws an {@link ExpressionError} naming the expression, its place ({@link Evaluator.locate}) and the cap.
 * A runner that evaluates one run with several Evaluators (sub-pipelines) passes them the same `budget` object.
 */
export class Evaluator {
  readonly timezone: string;
  readonly now: number;
  /** Budget of the run, shared by every evaluation; replace it to share one budget across Evaluators of a run. */
  budget: RunBudget = new RunBudget();
  /** Caps of a single evaluation (default: those of `budget`, i.e. EXPRESSION_LIMITS). */
  limits: Readonly<ExpressionLimits> | undefined = undefined;
  /** Where an expression is written (`pipelines/x.yaml:12:9`), for error messages; set by the runner when known. */
  locate: ((expr: string) => string | undefined) | undefined = undefined;
  private readonly env: Environment;
  private readonly cache = new Map<string, Compiled>();
  private readonly celCache = new WeakMap<object, unknown>();
  private meter: EvalMeter | undefined = undefined;

  /** @throws RangeError when the time zone is unknown */
  constructor(opts: ExprOptions = {}) {
    this.timezone = opts.timezone ?? 'UTC';
    zonedParts(new Date(), this.timezone); // validates the zone early
    this.now = opts.now ?? Date.now();
    this.env = registerHelpers(
      new Environment({
        unlistedVariablesAreDyn: true,
        homogeneousAggregateLiterals: false,
        enableOptionalTypes: true,
        limits,
      }),
      () => this.timezone,
      () => this.now,
    );
  }

  private compile(expr: string): Compiled {
    let c = this.cache.get(expr);
    if (!c) {
      if (expr.length > MAX_EXPR_LENGTH)
        throw new ExpressionError(`expression longer than ${MAX_EXPR_LENGTH} characters`, expr.slice(0, 80));
      try {
        const p = this.env.parse(expr);
        routeMatchesToRe2(p.ast);
        instrumentAst(p.ast, () => this.meter);
        c = { fn: p as unknown as Compiled['fn'], nodes: countNodes(p.ast), nesting: comprehensionNesting(p.ast) };
      } catch (err) {
        throw new ExpressionError(`cannot parse \`${expr}\`: ${firstLine((err as Error).message)}`, expr);
      }
      this.cache.set(expr, c);
    }
    return c;
  }

  /** Converts a JS value to a CEL value once per object identity (step results are converted once). */
  celValue(v: unknown): unknown {
    if (v && typeof v === 'object') {
      const hit = this.celCache.get(v);
      if (hit !== undefined) return hit;
      const c = toCel(v);
      this.celCache.set(v, c);
      return c;
    }
    return toCel(v);
  }

  /** Builds the CEL context for a scope (conversion cached per object identity). */
  context(scope: EvalScope): Record<string, unknown> {
    const steps: Record<string, unknown> = {};
    for (const [id, s] of Object.entries(scope.steps)) steps[id] = this.celValue(s);
    const ctx: Record<string, unknown> = {
      inputs: this.celValue(scope.inputs),
      steps,
      now: new Date(this.now),
      env: scope.env ?? {},
      trigger: this.celValue(scope.trigger ?? {}),
    };
    if ('item' in scope) {
      ctx.item = this.celValue(scope.item);
      ctx.index = BigInt(scope.index ?? 0);
    }
    return ctx;
  }

  /**
   * Evaluates one expression (the text inside `${{ }}`) to a plain JS value.
   * @throws ExpressionError on parse or evaluation errors, when the estimated cost exceeds {@link MAX_EVAL_COST} and
   *   when the evaluation exceeds a per-expression limit or the run's budget (message: "expression exceeded …")
   */
  evaluate(expr: string, ctx: Record<string, unknown>, maxListSize = 0): unknown {
    const c = this.compile(expr);
    if (c.nesting > 0) {
      const cost = c.nodes * Math.max(1, maxListSize) ** c.nesting;
      if (cost > MAX_EVAL_COST)
        throw new ExpressionError(
          `\`${expr}\` is too expensive to evaluate (estimated ${cost} steps, cap ${MAX_EVAL_COST})`,
          expr,
        );
    }
    const outer = this.meter;
    let meter: EvalMeter | undefined;
    try {
      meter = new EvalMeter(this.budget, this.limits);
      this.meter = meter;
      return fromCel(c.fn(ctx), this.timezone);
    } catch (err) {
      const limit = err instanceof ExpressionLimitError ? err : undefined;
      const where = limit ? this.locate?.(expr) : undefined;
      const why = firstLine((err as Error).message);
      throw new ExpressionError(`\`${expr}\`${where ? ` (${where})` : ''}: ${why}`, expr, limit);
    } finally {
      this.meter = outer;
      meter?.finish();
    }
  }

  /** Evaluates a template to text; null/undefined placeholders become ''. */
  renderTemplate(t: string, ctx: Record<string, unknown>, maxListSize = 0): string {
    let out = '';
    let last = 0;
    for (const ph of templatePlaceholders(t)) {
      out += t.slice(last, ph.start);
      const v = this.evaluate(ph.expr, ctx, maxListSize);
      out += v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
      last = ph.end;
    }
    return out + t.slice(last);
  }

  /**
   * Resolves a value tree: whole-field expressions → typed values, templates → text, literals unchanged.
   * The result is plain JSON-like data (the exact params a request will carry).
   */
  resolve(value: unknown, ctx: Record<string, unknown>, maxListSize = 0): unknown {
    if (isExpression(value)) return this.evaluate(expressionBody(value).expr, ctx, maxListSize);
    if (isTemplate(value)) return this.renderTemplate(value.$template, ctx, maxListSize);
    if (Array.isArray(value)) return value.map((v) => this.resolve(v, ctx, maxListSize));
    if (value && typeof value === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) o[k] = this.resolve(v, ctx, maxListSize);
      return o;
    }
    return value;
  }
}
