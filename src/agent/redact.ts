/**
 * Redaction for everything the chat side writes (interaction logs, error reports, API errors): webhook codes,
 * bot tokens, API keys, OAuth tokens and any value of a secret-looking key. Works on text and on JSON values.
 * The client's own `src/bitrix/redact.ts` covers the REST side; this one also knows chat secrets (Telegram bot
 * tokens, `HTTP_API_TOKENS`, `OPENAI_API_KEY`).
 */

const SECRET_KEY =
  /(token|secret|password|passwd|api[_-]?key|authorization|auth_id|refresh_id|client_secret|webhook|^auth$|^key$)/i;

const PATTERNS: [RegExp, string][] = [
  // Bitrix24 incoming webhook: /rest/<user>/<code>/
  [/(\/rest\/\d+\/)[A-Za-z0-9]{6,}(?=\/|\b)/g, '$1[redacted]'],
  // Telegram bot token, also inside /bot<token>/ API URLs
  [/(?<!\d)\d{5,12}:[A-Za-z0-9_-]{30,}/g, '[redacted-bot-token]'],
  // OpenAI-style keys
  [/\bsk-[A-Za-z0-9_-]{16,}\b/g, '[redacted-key]'],
  // Bearer / query-string tokens
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, '$1[redacted]'],
  [/((?:access_token|refresh_token|auth|application_token|client_secret|api_key|key)=)[^&\s"']+/gi, '$1[redacted]'],
];

let extraSecrets: string[] = [];

/**
 * Registers exact secret values (from the environment) to be masked wherever they appear. Values shorter than
 * 6 characters are ignored (they would mask ordinary words).
 */
export function registerSecrets(values: Array<string | undefined>): void {
  const add = values
    .flatMap((v) => (v ? v.split(',') : []))
    .map((v) => v.trim())
    .filter((v) => v.length >= 6);
  extraSecrets = [...new Set([...extraSecrets, ...add])].sort((a, b) => b.length - a.length);
}

/** Registers the secrets b24flow's chat side knows from an environment (tokens, keys, webhook URL code). */
export function registerEnvSecrets(env: NodeJS.ProcessEnv = process.env): void {
  const hook = env.BITRIX_WEBHOOK_URL?.match(/\/rest\/\d+\/([^/]+)/)?.[1];
  registerSecrets([
    env.TELEGRAM_BOT_TOKEN,
    env.OPENAI_API_KEY,
    env.HTTP_API_TOKENS,
    env.B24_CLIENT_SECRET,
    env.TELEGRAM_WEBHOOK_SECRET,
    hook,
  ]);
}

/** Masks secrets in a text. */
export function redactText(text: string): string {
  let out = text;
  for (const s of extraSecrets) out = out.split(s).join('[redacted]');
  for (const [re, rep] of PATTERNS) out = out.replace(re, rep);
  return out;
}

/** Deep copy of a JSON-like value with secret-named keys masked and secret patterns removed from strings. */
export function redactValue<T>(value: T, depth = 0): T {
  if (depth > 20) return '[truncated]' as T;
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1)) as T;
  if (value && typeof value === 'object') {
    if (value instanceof Error) return { name: value.name, message: redactText(value.message) } as T;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] =
        SECRET_KEY.test(k) && v !== null && typeof v !== 'object' && typeof v !== 'boolean'
          ? '[redacted]'
          : redactValue(v, depth + 1);
    }
    return out as T;
  }
  return value;
}
