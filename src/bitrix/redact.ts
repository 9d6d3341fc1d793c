/**
 * Redaction of secrets: webhook codes, OAuth tokens, client secrets, application tokens.
 *
 * Two layers:
 * 1. patterns that recognise secrets by shape and position (webhook URL path, `auth=` query, `"access_token": "..."`,
 *    `Authorization: Bearer ...`, `client_secret=...`);
 * 2. an exact-string registry: every secret the client learns at run time (webhook code, access/refresh tokens,
 *    client secret, application token) is registered with {@link registerSecret} and replaced wherever it appears.
 */

const MASK = '***';
const secrets = new Set<string>();
let secretsRe: RegExp | null = null;

/** Keys whose values are secrets wherever they appear (compared case-insensitively). */
export const SECRET_KEYS = new Set([
  'auth',
  'access_token',
  'refresh_token',
  'client_secret',
  'application_token',
  'auth_id',
  'refresh_id',
  'password',
  'secret',
  'token',
  'authorization',
  'webhook',
  'webhookurl',
  'webhook_url',
  'bitrix_webhook_url',
  'b24_client_secret',
  'api_key',
  'apikey',
]);

/** Key names recognised inside free text (query strings, JSON fragments). */
const KEY_ALT = 'auth|access_token|refresh_token|client_secret|application_token|AUTH_ID|REFRESH_ID|password|secret';

const PATTERNS: Array<[RegExp, string | ((...m: string[]) => string)]> = [
  // webhook path: /rest/<uid>/<code>/ and /rest/api/<uid>/<code>/
  [/(\/rest\/(?:api\/)?\d+\/)([^/\s?#"'<>]{4,})(?=\/|\b)/g, `$1${MASK}`],
  // query / form pairs
  [new RegExp(`([?&;\\s"'(]|^)(${KEY_ALT})(=)([^&\\s"'#<>]+)`, 'gi'), `$1$2$3${MASK}`],
  // JSON pairs "key": "value"
  [new RegExp(`("(?:${KEY_ALT})"\\s*:\\s*")([^"]*)(")`, 'gi'), `$1${MASK}$3`],
  // bracket form: auth[access_token]=...
  [/(\[(?:access_token|refresh_token|application_token|client_secret)\]=)([^&\s"']+)/gi, `$1${MASK}`],
  // Authorization headers
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]{6,}/g, `$1${MASK}`],
];

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Registers a secret string learned at run time; from now on {@link redact} replaces it everywhere.
 * Strings shorter than 6 characters are ignored (too likely to match ordinary text).
 */
export function registerSecret(value: string | undefined | null): void {
  if (!value || value.length < 6 || secrets.has(value)) return;
  secrets.add(value);
  secretsRe = null;
}

/** Number of registered secrets (for tests). */
export function registeredSecretCount(): number {
  return secrets.size;
}

/**
 * Replaces every secret in `text` by `***`.
 *
 * @returns the redacted text (the input unchanged when it contains no secret)
 */
export function redact(text: string): string {
  if (!text) return text;
  let out = text;
  if (secrets.size) {
    if (!secretsRe) {
      const alts = [...secrets].sort((a, b) => b.length - a.length).map(escapeRe);
      secretsRe = new RegExp(alts.join('|'), 'g');
    }
    out = out.replace(secretsRe, MASK);
  }
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep as string);
  return out;
}

/**
 * Deep-copies a value with secrets removed: values under secret keys become `***`, strings pass through
 * {@link redact}; Errors become `{name, message}`. Cycles are cut.
 */
export function redactDeep<T>(v: T): T {
  const seen = new WeakSet<object>();
  const walk = (x: unknown, key?: string): unknown => {
    if (key !== undefined && SECRET_KEYS.has(key.toLowerCase()) && x !== null && x !== undefined && x !== '') {
      if (typeof x === 'string' || typeof x === 'number') return MASK;
      if (typeof x === 'object') return MASK;
    }
    if (typeof x === 'string') return redact(x);
    if (x === null || typeof x !== 'object') return x;
    if (seen.has(x)) return '[circular]';
    seen.add(x);
    if (x instanceof Error) {
      const o: Record<string, unknown> = { name: x.name, message: redact(x.message) };
      for (const [k, val] of Object.entries(x)) o[k] = walk(val, k);
      return o;
    }
    if (Array.isArray(x)) return x.map((i) => walk(i));
    const o: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(x)) o[k] = walk(val, k);
    return o;
  };
  return walk(v) as T;
}
