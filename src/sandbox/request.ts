/**
 * Decoding a REST call's parameters the way the portal does: query string plus body, which may be
 * application/x-www-form-urlencoded or multipart/form-data with PHP brackets (`fields[TITLE]=…`), or JSON (an
 * array body = positional parameters); REST 3.0 takes JSON only. Legacy `task.*item.*` methods also take
 * positional parameters (`0=`, `1[..]=`). Sources (apidocs.bitrix24.com/<path>.html):
 * settings/how-to-call-rest-api/data-encoding.md ("Order of Parameters"), …/general-principles.md,
 * api-reference/rest-v3.md; rest-protocol.md §1.2.
 */
import type { IncomingMessage } from 'node:http';
import { ApiError, argError, v3Error } from './apiError.js';
import { type Params, parseMultipart, parseQuery } from './params.js';
import type { MethodSpec } from './registry.js';

/** Largest request body accepted (bytes); more → 413 ERROR_REQUEST_TOO_LARGE. */
const MAX_BODY = 32 * 1024 * 1024;

/** Reads a request body. @throws ApiError 413 above {@link MAX_BODY} */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  // plain events: an async iterator per request costs more than the rest of a crm.deal.get
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        req.removeAllListeners('data');
        req.resume();
        reject(new ApiError(413, 'ERROR_REQUEST_TOO_LARGE', 'Request entity too large'));
        return;
      }
      chunks.push(c);
    });
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/**
 * The parameters of a REST call and its raw body (hashed for Idempotency-Key replay). v1: query merged with the
 * body; a JSON array body is returned as is (positional). @throws ApiError for malformed JSON (v1 ERROR_ARGUMENT,
 * v3 INVALIDJSONEXCEPTION) or a non-JSON v3 body
 */
export async function decodeParams(
  req: IncomingMessage,
  url: URL,
  v3: boolean,
): Promise<{ params: Params | unknown[]; raw: Buffer }> {
  const raw = req.method === 'GET' || req.method === 'HEAD' ? Buffer.alloc(0) : await readBody(req);
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (v3) {
    if (raw.length === 0) return { params: {}, raw };
    if (!type.includes('json')) throw v3Error(400, 'INVALIDJSONEXCEPTION', 'Request body must be JSON');
    try {
      return { params: JSON.parse(raw.toString('utf8')), raw };
    } catch {
      throw v3Error(400, 'INVALIDJSONEXCEPTION', 'Invalid JSON in request body');
    }
  }
  const params: Params = parseQuery(url.search.slice(1));
  if (raw.length) {
    if (type.includes('application/json')) {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        throw argError('Invalid JSON in request body', 'ERROR_ARGUMENT');
      }
      if (Array.isArray(body)) return { params: Object.assign(body, params.auth ? { auth: params.auth } : {}), raw };
      if (body && typeof body === 'object') {
        for (const [k, v] of Object.entries(body)) if (k !== '__proto__') params[k] = v;
      }
    } else if (type.includes('multipart/form-data')) parseMultipart(raw, type, params);
    else parseQuery(raw.toString('utf8'), params);
  }
  return { params, raw };
}

/** Maps positional params (`0`, `1`, … or a JSON array) to the method's named params. */
export function positional(spec: MethodSpec, params: Params | unknown[]): Params {
  if (!spec.positional) return Array.isArray(params) ? { ...params } : params;
  const out: Params = {};
  const src: any = params;
  const named = Object.keys(src).filter((k) => !/^\d+$/.test(k));
  spec.positional.forEach((name, i) => {
    if (src[i] !== undefined) out[name] = src[i];
    else if (src[String(i)] !== undefined) out[name] = src[String(i)];
    else {
      const k = named.find((n) => n.toUpperCase() === name);
      if (k) out[name] = src[k];
    }
  });
  return out;
}
