/**
 * The one key style of every `--json` output of the CLI: camelCase (as b24flow's TypeScript types already are; the
 * few snake_case keys left, e.g. `method_count` or catalog keys such as `rest_v3`, are converted here). The rule:
 *
 * - a key made of lower-case words joined by `_` (`method_count`, `rest_v3`) becomes camelCase (`methodCount`,
 *   `restV3`); any other key is kept as is — upper-case portal field names (`ASSIGNED_BY_ID`, `UF_CRM_1`), keys that
 *   are already camelCase, `$schema`, keys with dots or dashes;
 * - the value under a key that holds portal or user data ({@link VERBATIM}: method `params`, step `result`s, event
 *   `payload`s, field `before`/`after` values, pipeline `inputs`/`outputs`...) is copied verbatim, its own keys
 *   untouched, so that what the portal sent or the user wrote reads back exactly;
 * - `b24flow call --json` prints the portal's answer envelope, which is portal data as a whole: it does not pass here.
 *
 * Errors under `--json` are `{"error": {"code", "message", "findings"?}}` on stderr (src/cli/present/errorOut.ts).
 */

/** Keys whose values are portal or user data, copied verbatim (matched after conversion, i.e. camelCase). */
export const VERBATIM = new Set([
  'params',
  'result',
  'payload',
  'before',
  'after',
  'inputs',
  'outputs',
  'fields',
  'filter',
  'data',
  'event',
  'answer',
  'request',
  'response',
  // pipeline definitions (recipe steps) keep the YAML language's keys (`idempotency_key`, `on_error`); b24flow's own
  // step records are camelCase already
  'steps',
  'with',
  // `events list`: the portal's event.get rows (`auth_type`, `connector_id`...); `events bind` results are camelCase
  'bindings',
]);

/** `method_count` → `methodCount`; keys that are not lower-case snake_case come back unchanged. */
export function camelKey(key: string): string {
  if (!/^[a-z][a-z0-9]*(_[a-z0-9]+)+$/.test(key)) return key;
  return key.replace(/_([a-z0-9])/g, (_m, ch: string) => ch.toUpperCase());
}

/** The JSON value with b24flow's own keys in camelCase (see the module comment for the rule). */
export function camelKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const key = camelKey(k);
    out[key] = VERBATIM.has(key) ? v : camelKeys(v);
  }
  return out;
}

/**
 * The text of a `--json` output: `value` as JSON (after `toJSON`, Dates as ISO strings), keys per the rule, indented
 * by 2 (`indent: 0` for one line), ending in a newline.
 */
export function jsonText(value: unknown, indent = 2): string {
  const plain: unknown = value === undefined ? null : JSON.parse(JSON.stringify(value));
  return `${JSON.stringify(camelKeys(plain), null, indent || undefined)}\n`;
}
