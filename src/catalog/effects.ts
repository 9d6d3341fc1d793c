/**
 * Param-dependent effects: the risk of one *call*, not only of the method.
 *
 * Some Bitrix24 methods whose name reads like a read change the portal for some param values:
 * `event.offline.get` with its default `clear=1` deletes the events it returns
 * (https://apidocs.bitrix24.com/api-reference/events/event-offline-get.html), `im.v2.Event.get` with `offset`
 * acknowledges (drops) the events before it. The catalog states these as `effects` on the method
 * (schemas/catalog-pack.schema.json, `MethodEffect`); {@link effectiveRisk} folds them into the risk of a call so
 * that shadow/plan runs send only pure reads and `call` asks for the confirmation the call really needs.
 *
 * Value rule (how Bitrix24 reads form and JSON values, see {@link looseValue}): `true`, `1`, `"1"`, `"Y"`, `"yes"`,
 * `"true"`, `"on"` are one value; `false`, `0`, `"0"`, `"N"`, `"no"`, `"false"`, `"off"`, `""` another; numeric
 * strings compare as numbers (`"01"` = `1`); other strings compare case-insensitively and trimmed. `null` and
 * `undefined` mean "not sent" (the HTTP encoding drops them), so the effect's `default` is assumed.
 */
import type { LocalizedText, MethodEffect, MethodEntry } from '../generated/catalog-pack.js';
import type { RiskClass } from './risk.js';

/** Why a call's risk is higher than its method's own risk. */
export interface EffectReason {
  /** The param as the effect names it (`clear`). */
  param: string;
  /** The value that decided: the one sent, or the effect's `default` when the param was not sent. */
  value: unknown;
  /** `sent`: the caller sent it; `default`: the portal's default; `expression`: a value the plan cannot know. */
  source: 'sent' | 'default' | 'expression';
  /** What happens, en/ru (from the catalog). */
  summary: LocalizedText;
}

/** The risk of one call: the worst of the method's risk and every effect that applies. */
export interface EffectiveRisk {
  risk: RiskClass;
  /** Set when an effect raised the risk above the method's own risk: the first effect of the highest risk. */
  because?: EffectReason;
}

/** The parts of a catalog entry this module reads. */
export type EffectsOf = Pick<MethodEntry, 'risk' | 'effects' | 'risk_from_commands'>;

const RANK: Record<RiskClass, number> = { read: 0, write: 1, destructive: 2 };

/** The worse of two risk classes. */
export function maxRisk(a: RiskClass, b: RiskClass): RiskClass {
  return RANK[a] >= RANK[b] ? a : b;
}

/** True when `a` is a lower risk class than `b` (read < write < destructive). */
export function riskBelow(a: RiskClass, b: RiskClass): boolean {
  return RANK[a] < RANK[b];
}

const TRUE_WORDS = /^(y|yes|true|on)$/i;
const FALSE_WORDS = /^(n|no|false|off)$/i;
const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)$/;

/**
 * The comparison key of a param value under the loose rule described in the module docstring.
 *
 * @returns `'1'` for the true-like values, `'0'` for the false-like ones (and `""`), the canonical number text for
 *   numbers and numeric strings, the trimmed lower-cased text for other strings, JSON for objects/arrays
 */
export function looseValue(v: unknown): string {
  if (v === true) return '1';
  if (v === false) return '0';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    const s = v.trim();
    if (s === '') return '0';
    if (TRUE_WORDS.test(s)) return '1';
    if (FALSE_WORDS.test(s)) return '0';
    if (NUMERIC.test(s)) return String(Number(s));
    return s.toLowerCase();
  }
  return JSON.stringify(v) ?? '';
}

/** True when two values are the same under the loose rule. */
export function looseEquals(a: unknown, b: unknown): boolean {
  return looseValue(a) === looseValue(b);
}

/**
 * True for a value not known before the call: a pipeline expression (`${{ steps.x.id }}`) or a batch reference to
 * an earlier command's result (`$result[cmd][ID]`).
 */
function isExpression(v: unknown): boolean {
  return typeof v === 'string' && (v.includes('${{') || v.trimStart().startsWith('$result['));
}

/** Values sent for `param`, names matched case-insensitively (Bitrix24 upper-cases keys for most methods). */
function sentValues(params: Record<string, unknown> | undefined, param: string): unknown[] {
  if (!params) return [];
  const want = param.toLowerCase();
  const out: unknown[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (k.toLowerCase() === want && v !== undefined && v !== null) out.push(v);
  }
  return out;
}

/**
 * Whether the effect applies to a known value. `when` wins if an effect states both lists (`catalog validate`
 * refuses that, rule effect-condition).
 */
function applies(e: MethodEffect, value: unknown): boolean {
  if (e.when) return e.when.some((w) => looseEquals(w, value));
  if (e.unless) return !e.unless.some((u) => looseEquals(u, value));
  return true;
}

/**
 * Whether one effect applies to a call, and why.
 *
 * @returns the reason when it applies (an expression value counts as applying: worst case), else undefined
 */
export function effectApplies(e: MethodEffect, params: Record<string, unknown> | undefined): EffectReason | undefined {
  const sent = sentValues(params, e.param);
  if (sent.length === 0) {
    if (e.default === undefined) return undefined;
    return applies(e, e.default)
      ? { param: e.param, value: e.default, source: 'default', summary: e.summary }
      : undefined;
  }
  for (const v of sent) {
    if (isExpression(v)) return { param: e.param, value: v, source: 'expression', summary: e.summary };
    if (applies(e, v)) return { param: e.param, value: v, source: 'sent', summary: e.summary };
  }
  return undefined;
}

/**
 * The risk of calling `method` with `params`: the worst of the method's own `risk` and the risk of every effect
 * that applies. Pure; never throws.
 *
 * `risk_from_commands` methods (`batch`) are not expanded here: their commands are separate calls, and the caller
 * computes each command's effective risk with its own params.
 *
 * @param method the catalog entry (curated or reference; `effects` may be absent)
 * @param params the call's params as they will be sent; strings containing `${{` (and batch `$result[...]`
 *   references) are unknown values and count as applying
 * @example effectiveRisk(cat.method('event.offline.get')!, {}) // → { risk: 'destructive', because: { param: 'clear', value: 1, source: 'default', ... } }
 * @example effectiveRisk(cat.method('event.offline.get')!, { clear: 0 }) // → { risk: 'read' }
 */
export function effectiveRisk(method: EffectsOf, params: Record<string, unknown> | undefined): EffectiveRisk {
  let risk: RiskClass = method.risk;
  let because: EffectReason | undefined;
  for (const e of method.effects ?? []) {
    if (!riskBelow(risk, e.risk)) continue;
    const why = effectApplies(e, params);
    if (why) {
      risk = e.risk;
      because = why;
    }
  }
  return because ? { risk, because } : { risk };
}

/**
 * True when the call only reads: its effective risk is `read` and it is not a `batch`-like method whose commands
 * decide (those need each command checked). Shadow and plan runs send only calls for which this is true.
 */
export function isPureRead(method: EffectsOf, params: Record<string, unknown> | undefined): boolean {
  return !method.risk_from_commands && effectiveRisk(method, params).risk === 'read';
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/**
 * Splits one `batch` command (`cmd` value, `method?query`, form-encoded as in
 * https://apidocs.bitrix24.com/api-reference/how-to-call-rest-api/batch.html) into the method and its top-level
 * params, so each command's {@link effectiveRisk} can be computed: `event.offline.get?clear=0` →
 * `{ method: 'event.offline.get', params: { clear: '0' } }`. A nested key (`filter[ID]=1`) yields an object value for
 * its top-level name; `$result[...]` references stay strings, which {@link effectiveRisk} treats as unknown values.
 */
export function commandParams(cmd: string): { method: string; params: Record<string, unknown> } {
  const q = cmd.indexOf('?');
  const method = (q < 0 ? cmd : cmd.slice(0, q)).trim();
  const params: Record<string, unknown> = {};
  if (q < 0) return { method, params };
  for (const pair of cmd.slice(q + 1).split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    const br = key.indexOf('[');
    if (br > 0) {
      const top = key.slice(0, br);
      const prev = params[top];
      params[top] = prev && typeof prev === 'object' ? prev : {};
    } else params[key] = value;
  }
  return { method, params };
}
