/**
 * The client's HTTP transport: one POST exchange (JSON body, `Idempotency-Key`, redirects returned, never followed),
 * the typed NETWORK error's init (with a redacted cause), whether a request never reached the portal, and the
 * backoff between resends.
 */
import { type Dispatcher, request } from 'undici';
import type { CallObservation } from './clientTypes.js';
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

/** A raw HTTP answer: status, parsed JSON body (undefined when not JSON), raw text, `Location` of a redirect. */
export interface RawAnswer {
  status: number;
  /** Parsed JSON, or undefined when the body was not JSON. */
  body: any;
  raw: string;
  location?: string;
}

/**
 * One HTTP exchange: POSTs `spec.params` as JSON to `base + spec.method` (a token goes into the body, or `?auth=` for
 * a positional list). Redirects are returned (status 3xx with `location`), never followed blindly.
 * @throws undici errors (network, timeout, abort) as they come
 */
export async function exchange(
  base: string,
  spec: { method: string; params: Record<string, unknown> | unknown[]; idempotencyKey?: string; signal?: AbortSignal },
  token: string | undefined,
  o: { dispatcher: Dispatcher; userAgent: string; timeoutMs: number },
): Promise<RawAnswer> {
  let url = base + spec.method;
  let payload: unknown = spec.params;
  if (token) {
    if (Array.isArray(spec.params)) url += `?auth=${encodeURIComponent(token)}`;
    else payload = { ...spec.params, auth: token };
  }
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json',
    'user-agent': o.userAgent,
  };
  if (spec.idempotencyKey) headers['idempotency-key'] = spec.idempotencyKey;
  const res = await request(url, {
    method: 'POST',
    body: JSON.stringify(payload),
    headers,
    dispatcher: o.dispatcher,
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    ...(spec.signal ? { signal: spec.signal } : {}),
  });
  if (res.statusCode >= 300 && res.statusCode < 400) {
    await res.body.dump();
    const loc = res.headers.location;
    const location = Array.isArray(loc) ? loc[0] : loc;
    return { status: res.statusCode, body: undefined, raw: '', ...(location ? { location } : {}) };
  }
  const text = await res.body.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body === null || typeof body !== 'object') body = undefined;
  return { status: res.statusCode, body, raw: text };
}

/** The transport of a request for {@link CallObservation}: a batch, else its REST version. */
export function transportOf(spec: {
  method: string;
  version: 2 | 3;
  batchMethods?: Record<string, string>;
}): CallObservation['transport'] {
  return spec.batchMethods || spec.method === 'batch' ? 'batch' : spec.version === 3 ? 'rest3' : 'rest2';
}
