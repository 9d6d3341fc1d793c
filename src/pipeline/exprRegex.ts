/**
 * Regular expressions inside pipeline expressions: CEL's `matches` is RE2 by the CEL language definition
 * (https://github.com/google/cel-spec/blob/master/doc/langdef.md#regular-expressions), so it runs on `re2js`, a
 * pure-JS port of RE2: matching is linear in the input, whatever the pattern. No backreferences, no lookaround.
 *
 * Portal data (a deal title, a comment) reaches `matches` as the subject and may reach it as the pattern; neither can
 * make evaluation spin. Compiled patterns are cached by text.
 */
import { RE2JS } from 're2js';

/** Longest accepted pattern (characters). */
export const MAX_REGEX_LENGTH = 1024;
/** Largest compiled RE2 program (instructions); bounds compile time and per-character match work. */
export const MAX_REGEX_PROGRAM = 5000;

/** Thrown for a pattern RE2 rejects or that exceeds the size caps; the message names the pattern. */
export class RegexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegexError';
  }
}

const cache = new Map<string, RE2JS | RegexError>();
const CACHE_MAX = 256;

/**
 * Compiles `pattern` with RE2 syntax (cached).
 * @throws RegexError when RE2 rejects it (lookaround, backreference, bad repeat count, ...) or it is too large
 */
export function compileRe2(pattern: string): RE2JS {
  let hit = cache.get(pattern);
  if (!hit) {
    hit = compileUncached(pattern);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(pattern, hit);
  }
  if (hit instanceof RegexError) throw hit;
  return hit;
}

function compileUncached(pattern: string): RE2JS | RegexError {
  const shown = pattern.length > 60 ? `${JSON.stringify(pattern.slice(0, 60))}…` : JSON.stringify(pattern);
  if (pattern.length > MAX_REGEX_LENGTH)
    return new RegexError(`regular expression ${shown} is longer than ${MAX_REGEX_LENGTH} characters`);
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    const why = String((err as Error).message ?? err).replace(/^error parsing regexp:\s*/, '');
    return new RegexError(`invalid RE2 regular expression ${shown}: ${why} (CEL matches() uses RE2 syntax)`);
  }
  if (re.programSize() > MAX_REGEX_PROGRAM)
    return new RegexError(
      `regular expression ${shown} compiles to ${re.programSize()} RE2 instructions (at most ${MAX_REGEX_PROGRAM})`,
    );
  return re;
}

/**
 * CEL `matches`: true when `pattern` matches any substring of `text` (unanchored, as in CEL). Linear time.
 * @throws RegexError for a pattern RE2 rejects
 */
export function re2Matches(text: string, pattern: string): boolean {
  return compileRe2(pattern).test(text);
}

/** The RE2 error for `pattern`, or undefined when it compiles (for static checks of literal patterns). */
export function re2PatternProblem(pattern: string): string | undefined {
  try {
    compileRe2(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
