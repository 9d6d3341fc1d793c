/**
 * Network failures of the client: the typed NETWORK error's init (with a redacted cause), whether a request never
 * reached the portal, and the backoff between resends.
 */
import { redact } from './redact.js';
import type { B24Error } from './restErrors.js';
import { NetworkError } from './restErrors.js';

export function netInit(method: string, description: string, cause?: unknown) {
  // The raw error may carry the request URL (webhook code, `auth=` token): keep only a redacted copy as the cause.
  const c = cause as { name?: string; code?: string; message?: string } | undefined;
  const safeCause = c
    ? { name: c.name ?? 'Error', ...(c.code ? { code: c.code } : {}), message: redact(String(c.message ?? c)) }
    : undefined;
  return {
    code: 'NETWORK',
    status: 0,
    method,
    dialect: 'http' as const,
    description,
    retryable: true,
    ...(safeCause ? { cause: safeCause } : {}),
  };
}

export function describeNetError(err: unknown): string {
  const e = err as any;
  const code = e?.code ?? e?.cause?.code;
  return redact(`${code ? `${code}: ` : ''}${e?.message ?? String(err)}`);
}

/**
 * Whether a failure happened before the connection was made (ECONNREFUSED, or a reset while connecting, e.g. a
 * server that stopped listening with the connection still in its accept queue): the request was never sent.
 */
export function connectionRefused(err: B24Error): boolean {
  if (!(err instanceof NetworkError)) return false;
  const c = err.cause as { code?: string; message?: string } | undefined;
  return c?.code === 'ECONNREFUSED' || (c?.code === 'ECONNRESET' && /^connect ECONNRESET/.test(c.message ?? ''));
}

/** Exponential backoff with full jitter for 5xx / network retries, real ms. */
export function backoffMs(attempt: number): number {
  const cap = Math.min(8000, 250 * 2 ** attempt);
  return cap / 2 + Math.random() * (cap / 2);
}
