/**
 * Request bodies and keys of the HTTP API: JSON bodies with a closed set of fields, typed string fields, the
 * SHA-256 digest of an API key, and the 400 error they raise.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { readBody } from '../../lib/http.js';

/** A malformed request: answered 400 with the message. */
export class BadRequest extends Error {}

/** SHA-256 of a string (API keys are compared and logged only as digests). */
export function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/**
 * The request's JSON object body with only `allowed` fields (`emptyOk`: an empty body is `{}`).
 * @throws BadRequest for another content type, invalid JSON, a non-object or unknown fields
 */
export async function jsonBody(
  req: IncomingMessage,
  allowed: string[],
  emptyOk = false,
): Promise<Record<string, unknown>> {
  const ct = String(req.headers['content-type'] ?? '');
  const raw = (await readBody(req)).toString('utf8');
  if (!raw.trim() && emptyOk) return {};
  if (ct && !/^application\/json\b/i.test(ct)) throw new BadRequest('content-type must be application/json');
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new BadRequest('the body is not valid JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new BadRequest('the body must be a JSON object');
  const extra = Object.keys(v).filter((k) => !allowed.includes(k));
  if (extra.length) throw new BadRequest(`unknown field(s): ${extra.join(', ')} (allowed: ${allowed.join(', ')})`);
  return v as Record<string, unknown>;
}

/** A string field matching `re` ("" when absent and not required). @throws BadRequest otherwise */
export function str(body: Record<string, unknown>, key: string, re: RegExp, required: boolean): string {
  const v = body[key];
  if (v === undefined && !required) return '';
  if (typeof v !== 'string' || !re.test(v)) throw new BadRequest(`"${key}" is missing or invalid`);
  return v;
}
