/**
 * The one redaction mechanism of b24flow: every log line, error, audit record, interaction log, API answer and test
 * snapshot passes through {@link redact} (text) or {@link redactDeep} (JSON-like values). Every secret is replaced
 * by {@link MASK} (`***`).
 *
 * Three layers:
 * 1. {@link REDACTION_PATTERNS}: one table of secrets recognised by shape and position — webhook codes in REST URLs,
 *    `auth=`/`access_token=`/… in query strings and forms, `"access_token": "…"` in JSON text, `auth[…]=` bracket
 *    forms, `Authorization: Bearer …`, `X-API-Key: …`, Telegram bot tokens (also inside `/bot<token>/` API URLs),
 *    OpenAI-style keys (`sk-…`) and `/link <code>` chat commands;
 * 2. an exact-string registry: every secret learned at run time (webhook code, OAuth access/refresh tokens, client
 *    secret, application token, bot token, API keys) is registered with {@link registerSecret} /
 *    {@link registerSecrets} / {@link registerEnvSecrets} and replaced wherever it appears;
 * 3. in {@link redactDeep}, values under secret-named keys ({@link isSecretKey}) are masked whole.
 *
 * Source of the secret shapes: settings/how-to-call-rest-api/authorization.md, local-integrations/local-webhooks.md,
 * settings/oauth/index.md (Bitrix24); core.telegram.org/bots/api (bot token); the OpenAI API key format.
 */

/** What a secret is replaced with. */
export const MASK = '***';

const secrets = new Set<string>();
let secretsRe: RegExp | null = null;

/** Key names recognised inside free text (query strings, JSON fragments); case-insensitive. */
const KEY_ALT =
  'auth|access_token|refresh_token|client_secret|application_token|auth_id|refresh_id|password|secret|api_key|apikey';

/**
 * The pattern table: `[name, regex, replacement]`. Order matters only where shapes overlap (webhook path before
 * generic pairs). Every replacement keeps the context (`/rest/1/***`, `auth=***`) and drops the secret.
 */
export const REDACTION_PATTERNS: ReadonlyArray<readonly [string, RegExp, string]> = [
  // incoming webhook: /rest/<user id>/<code>/ and the REST 3.0 form /rest/api/<user id>/<code>/
  ['webhook code', /(\/rest\/(?:api\/)?\d+\/)([^/\s?#"'<>]{4,})(?=\/|\b)/g, `$1${MASK}`],
  // Telegram bot token `<bot id>:<35+ chars>`, also inside https://api.telegram.org/bot<token>/method
  ['telegram bot token', /(?<![\d:])\d{5,12}:[A-Za-z0-9_-]{30,}/g, MASK],
  // OpenAI-style API keys (sk-..., sk-proj-...)
  ['openai key', /\bsk-[A-Za-z0-9_-]{16,}/g, MASK],
  // query / form pairs: ?auth=..., &access_token=..., key=...
  ['query pair', new RegExp(`([?&;\\s"'(]|^)(${KEY_ALT}|key)(=)([^&\\s"'#<>]+)`, 'gi'), `$1$2$3${MASK}`],
  // JSON pairs inside text: "access_token": "..."
  ['json pair', new RegExp(`("(?:${KEY_ALT}|x-api-key)"\\s*:\\s*")([^"]*)(")`, 'gi'), `$1${MASK}$3`],
  // PHP bracket form: auth[access_token]=...
  ['bracket pair', /(\[(?:access_token|refresh_token|application_token|client_secret)\]=)([^&\s"']+)/gi, `$1${MASK}`],
  // Authorization: Bearer <token>
  ['bearer', /(Bearer\s+)[A-Za-z0-9._~+/=-]{6,}/gi, `$1${MASK}`],
  // X-API-Key: <key> (HTTP API header, as text)
  ['x-api-key header', /(x-api-key\s*:\s*)[^\s"',;]+/gi, `$1${MASK}`],
  // /link <code>: a link code is a credential until used
  ['link code', /(\/link(?:@\w+)?[ \t]+)[^\s"'\\]+/gi, `$1${MASK}`],
];

/** Exact key names (lower case) whose values are secrets wherever they appear. */
const SECRET_KEY_NAMES = new Set([
  'auth',
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'auth_id',
  'refresh_id',
  'webhook',
  'webhookurl',
  'webhook_url',
  'bitrix_webhook_url',
]);

/** Key name endings that mark a secret: `access_token`, `TELEGRAM_BOT_TOKEN`, `clientSecret`, `x-api-key`, … */
const SECRET_KEY_SUFFIX = /(?:token|secret|password|passwd|api[_-]?key)$/i;

/**
 * True when a value stored under `key` is a secret (`auth`, `access_token`, `refresh_token`, `client_secret`,
 * `application_token`, `TELEGRAM_BOT_TOKEN`, `OPENAI_API_KEY`, `x-api-key`, `password`, `webhook_url`, …).
 * Counters such as `max_tokens` or `prompt_tokens` are not secrets.
 */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY_NAMES.has(key.toLowerCase()) || SECRET_KEY_SUFFIX.test(key);
}

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

/**
 * Registers several secrets; each value may be a comma-separated list (`HTTP_API_TOKENS`), items are trimmed.
 */
export function registerSecrets(values: ReadonlyArray<string | undefined | null>): void {
  for (const v of values) {
    if (!v) continue;
    for (const item of v.split(',')) registerSecret(item.trim());
  }
}

/**
 * Registers the secrets of an environment: `TELEGRAM_BOT_TOKEN`, `OPENAI_API_KEY`, `HTTP_API_TOKENS`,
 * `B24_CLIENT_SECRET`, `TELEGRAM_WEBHOOK_SECRET`, `B24_APPLICATION_TOKEN`, the code of `BITRIX_WEBHOOK_URL` and the
 * whole webhook URL (so that even a malformed one never reaches an error message).
 */
export function registerEnvSecrets(env: NodeJS.ProcessEnv): void {
  const hook = env.BITRIX_WEBHOOK_URL?.match(/\/rest\/(?:api\/)?\d+\/([^/?#\s]+)/)?.[1];
  // the whole value too: a malformed webhook URL (no user id, a typo in the scheme) still holds the code somewhere
  registerSecret(env.BITRIX_WEBHOOK_URL?.trim());
  registerSecrets([
    env.TELEGRAM_BOT_TOKEN,
    env.OPENAI_API_KEY,
    env.HTTP_API_TOKENS,
    env.B24_CLIENT_SECRET,
    env.TELEGRAM_WEBHOOK_SECRET,
    env.B24_APPLICATION_TOKEN,
    env.B24FLOW_STORE_KEY,
    hook,
  ]);
}

/** Number of registered secrets (for tests). */
export function registeredSecretCount(): number {
  return secrets.size;
}

/** The registered secret values (the test suite's final scan looks for each of them in every file written). */
export function registeredSecrets(): string[] {
  return [...secrets];
}

/**
 * Replaces every secret in `text` by `***` (registered secrets first, then {@link REDACTION_PATTERNS}).
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
  for (const [, re, rep] of REDACTION_PATTERNS) out = out.replace(re, rep);
  return out;
}

/**
 * Deep copy of a JSON-like value with secrets removed: non-empty values under secret keys ({@link isSecretKey})
 * become `***` (objects included), strings pass through {@link redact}; Errors become `{name, message, ...own
 * fields}`. Cycles become `'[circular]'`, nesting deeper than 40 levels `'[truncated]'`.
 */
export function redactDeep<T>(v: T): T {
  const seen = new WeakSet<object>();
  const walk = (x: unknown, depth: number, key?: string): unknown => {
    if (key !== undefined && x !== null && x !== undefined && x !== '' && typeof x !== 'boolean' && isSecretKey(key))
      return MASK;
    if (typeof x === 'string') return redact(x);
    if (x === null || typeof x !== 'object') return x;
    if (depth > 40) return '[truncated]';
    if (seen.has(x)) return '[circular]';
    seen.add(x);
    if (x instanceof Error) {
      const o: Record<string, unknown> = { name: x.name, message: redact(x.message) };
      for (const [k, val] of Object.entries(x)) o[k] = walk(val, depth + 1, k);
      return o;
    }
    if (Array.isArray(x)) return x.map((i) => walk(i, depth + 1));
    const o: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(x)) o[k] = walk(val, depth + 1, k);
    return o;
  };
  return walk(v, 0) as T;
}
