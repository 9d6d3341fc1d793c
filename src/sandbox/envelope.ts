/**
 * The answer dialects of the portal: the v1 envelope (`result`, `total`/`next` on lists, the `time` block with
 * the operating fields, `x-bitrix-rest-*` headers) as JSON or `.xml`, the v1 error body
 * (`error`/`error_description`) and the REST 3.0 error body (`{error: {code, message, validation}}`).
 * Sources (apidocs.bitrix24.com/<path>.html): settings/how-to-call-rest-api/general-principles.md,
 * api-reference/data-types.md#time, _includes/system-errors.md, api-reference/rest-v3.md; rest-protocol.md §1.3,
 * §1.4, §8.
 */
import type { ServerResponse } from 'node:http';
import type { ApiError } from './apiError.js';
import type { Portal } from './portal.js';
import { isoDate } from './portalTime.js';

/** An answer before it is written: HTTP status, body (JSON- or XML-encoded on the way out), extra headers. */
export interface Envelope {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * The `time` block of an answer (seconds, as the portal gives them); with `op`, the operating-budget fields
 * `operating` (seconds spent by this method in the current window) and `operating_reset_at` (unix seconds).
 */
export const timeBlock = (
  startMs: number,
  endMs: number,
  procMs: number,
  op?: { operating: number; resetAt: number },
) => {
  const t: Record<string, unknown> = {
    start: startMs / 1000,
    finish: endMs / 1000,
    duration: (endMs - startMs) / 1000,
    processing: procMs / 1000,
    date_start: isoDate(startMs),
    date_finish: isoDate(endMs),
  };
  if (op) {
    t.operating_reset_at = op.resetAt;
    t.operating = Math.round(op.operating * 10000) / 10000;
  }
  return t;
};

/** The v1 error body. */
export const errBody = (e: ApiError) => ({ error: e.code, error_description: e.description });

/** The REST 3.0 error body (an empty code becomes BITRIX_REST_V3_EXCEPTION_UNKNOWN). */
export function v3Body(e: ApiError): unknown {
  const code = e.code.startsWith('BITRIX_REST_V3_') ? e.code : e.code || 'BITRIX_REST_V3_EXCEPTION_UNKNOWN';
  const err: Record<string, unknown> = { code, message: e.description };
  if (e.validation) err.validation = e.validation;
  return { error: err };
}

/** Writes an envelope (JSON, or XML for `.xml` calls) and counts its status in the portal's stats. */
export function sendEnvelope(portal: Portal, res: ServerResponse, env: Envelope, xml = false): void {
  const status = env.status;
  portal.stats.status[String(status)] = (portal.stats.status[String(status)] ?? 0) + 1;
  const body = xml ? toXml(env.body) : JSON.stringify(env.body);
  res.writeHead(status, {
    'content-type': xml ? 'text/xml; charset=utf-8' : 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...(env.headers ?? {}),
  });
  res.end(body);
}

/** The `.xml` form of an answer: objects become tags, arrays `<item>` lists, odd keys `<item key="…">`. */
function toXml(v: unknown): string {
  const enc = (s: string) => s.replace(/[<>&]/g, (c) => (c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&amp;'));
  const walk = (x: unknown): string => {
    if (x === null || x === undefined) return '';
    if (Array.isArray(x)) return x.map((i) => `<item>${walk(i)}</item>`).join('');
    if (typeof x === 'object') {
      return Object.entries(x)
        .map(([k, i]) => {
          const tag = /^[A-Za-z_][\w.-]*$/.test(k) ? k : `item key="${enc(k)}"`;
          const close = tag.split(' ')[0];
          return `<${tag}>${walk(i)}</${close}>`;
        })
        .join('');
    }
    if (typeof x === 'boolean') return x ? 'true' : 'false';
    return enc(String(x));
  };
  return `<?xml version="1.0" encoding="utf-8"?><response>${walk(v)}</response>`;
}
