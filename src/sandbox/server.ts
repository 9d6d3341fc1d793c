/**
 * The HTTP front of the sandbox portal: routes the URL forms (incoming webhook `/rest/{user}/{code}/{method}`,
 * OAuth `/rest/{method}`, REST 3.0 `/rest/api/…`, `.json`/`.xml` suffixes) and runs a REST call through its steps:
 * injected faults, parameter decoding (request.ts), auth and the leaky bucket (503 QUERY_LIMIT_EXCEEDED), REST 3.0
 * Idempotency-Key replay, dispatch (dispatch.ts) and the answer dialect (envelope.ts). The OAuth server and the
 * /sandbox/* control endpoints live in oauthServer.ts and control.ts. Sources (Bitrix24 REST docs, served as
 * apidocs.bitrix24.com/<path>.html): settings/how-to-call-rest-api/general-principles.md,
 * local-integrations/local-webhooks.md, settings/performance/limits.md, api-reference/rest-v3.md;
 * rest-protocol.md §1–§9.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, v3Error } from './apiError.js';
import { resolveAuth } from './auth.js';
import { control, sendFault } from './control.js';
import { Dispatcher } from './dispatch.js';
import { type Envelope, errBody, sendEnvelope, v3Body } from './envelope.js';
import { authorize, token } from './oauthServer.js';
import type { Params } from './params.js';
import type { Portal } from './portal.js';
import type { CallCtx, Registry } from './registry.js';
import { decodeParams } from './request.js';

/** The request handler. */
export class SandboxServer {
  /** the method table (curated methods plus `batch`) */
  readonly registry: Registry;
  /** server-side latency probe (benchmarks): method, ms from request start to the last byte written */
  onTiming: ((method: string, ms: number) => void) | null = null;
  private readonly dispatcher: Dispatcher;

  constructor(readonly portal: Portal) {
    this.dispatcher = new Dispatcher(portal);
    this.registry = this.dispatcher.registry;
  }

  /** node:http request listener. */
  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req, res).catch((e) => {
      this.portal.opts.log(`sandbox: internal error: ${(e as Error).message}`);
      if (!res.headersSent)
        this.send(res, {
          status: 500,
          body: { error: 'INTERNAL_SERVER_ERROR', error_description: 'Internal server error' },
        });
    });
  };

  private send(res: ServerResponse, env: Envelope, xml = false): void {
    sendEnvelope(this.portal, res, env, xml);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const path = url.pathname;
    if (path.startsWith('/sandbox/')) return control(this.portal, req, res, url);
    if (path === '/oauth/authorize/' || path === '/oauth/authorize') return authorize(this.portal, res, url);
    if (path === '/oauth/token/' || path === '/oauth/token') return token(this.portal, req, res, url);
    const v3 = /^\/rest\/api\/(?:(\d+)\/([^/]+)\/)?([^/]+?)\/?$/.exec(path);
    if (v3) return this.rest(req, res, url, { v3: true, userId: v3[1], code: v3[2], method: v3[3]! });
    const hook = /^\/rest\/(\d+)\/([^/]+)\/([^/]+?)(\.json|\.xml)?\/?$/.exec(path);
    if (hook)
      return this.rest(req, res, url, {
        v3: false,
        userId: hook[1],
        code: hook[2],
        method: hook[3]!,
        xml: hook[4] === '.xml',
      });
    const oauth = /^\/rest\/([^/]+?)(\.json|\.xml)?\/?$/.exec(path);
    if (oauth) return this.rest(req, res, url, { v3: false, method: oauth[1]!, xml: oauth[2] === '.xml' });
    this.send(res, { status: 404, body: { error: 'NOT_FOUND', error_description: 'Not found' } });
  }

  private async rest(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    route: { v3: boolean; userId?: string; code?: string; method: string; xml?: boolean },
  ): Promise<void> {
    const p = this.portal;
    const method = route.method.toLowerCase();
    const started = p.clock.now();
    if (this.onTiming) {
      const t0 = performance.now();
      const hook = this.onTiming;
      res.once('finish', () => hook(method, performance.now() - t0));
    }
    p.stats.requests++;
    p.stats.byMethod[method] = (p.stats.byMethod[method] ?? 0) + 1;
    if (route.v3) {
      p.stats.v3.requests++;
      p.stats.v3.byMethod[method] = (p.stats.v3.byMethod[method] ?? 0) + 1;
      if (req.headers['idempotency-key'] !== undefined) p.stats.v3.keyed++;
      if (p.opts.restV3 === false) {
        // a portal without REST 3.0: `/rest/api/` is not a route, the method is unknown (rest-protocol.md §8, §9)
        await drain(req);
        return this.send(res, {
          status: 404,
          body: errBody(new ApiError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!')),
        });
      }
    }
    const fault = p.faults.get(method);
    if (fault && fault.count > 0 && fault.kind !== 'reset_after' && fault.kind !== 'lost-answer') {
      if (--fault.count <= 0) p.faults.delete(method);
      return sendFault(p, req, res, fault.kind);
    }
    const fail = (e: ApiError) =>
      this.send(res, { status: e.status, body: route.v3 ? v3Body(e) : errBody(e) }, route.xml);
    let params: Params | unknown[];
    let raw: Buffer;
    try {
      ({ params, raw } = await decodeParams(req, url, route.v3));
    } catch (e) {
      if (e instanceof ApiError) return fail(e);
      throw e;
    }
    let ctx: CallCtx;
    try {
      const connector = !Array.isArray(params) ? String((params as Params).auth_connector ?? '') : '';
      ctx = resolveAuth(p, route, params, connector, url.searchParams.get('auth'));
      if (!Array.isArray(params)) {
        delete (params as Params).auth;
      }
      if (!p.bucket.take('portal|' + (req.socket.remoteAddress ?? ''), p.clock.nowSec())) {
        throw new ApiError(503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests');
      }
    } catch (e) {
      if (e instanceof ApiError) return fail(e);
      throw e;
    }
    // REST 3.0 idempotency replay
    let idemKey: string | null = null;
    const keyHeader = req.headers['idempotency-key'];
    if (route.v3 && keyHeader !== undefined) {
      const k = String(keyHeader);
      if (!/^[\x21-\x7e]{1,255}$/.test(k))
        return fail(
          v3Error(400, 'INVALIDIDEMPOTENCYKEYEXCEPTION', 'Idempotency key must be 1-255 printable ASCII characters'),
        );
      idemKey = `${ctx.authKey}|${ctx.userId}|${method}|${k}`;
      const hash = createHash('sha256').update(raw).digest('hex');
      const hit = p.idempotency.get(idemKey);
      if (hit && hit.at > p.clock.now() - 86_400_000) {
        if (hit.hash !== hash)
          return fail(
            v3Error(422, 'IDEMPOTENCYKEYREUSEDEXCEPTION', 'Idempotency key was already used with another request'),
          );
        p.stats.status[String(hit.status)] = (p.stats.status[String(hit.status)] ?? 0) + 1;
        res.writeHead(hit.status, { 'content-type': 'application/json; charset=utf-8', 'idempotent-replayed': 'true' });
        res.end(hit.body);
        return;
      }
    }
    const out =
      route.v3 && method === 'batch'
        ? await this.dispatcher.v3batch(ctx, params)
        : await this.invoke(ctx, method, params, started);
    if (out.status === 200 && idemKey) {
      p.idempotency.set(idemKey, {
        hash: createHash('sha256').update(raw).digest('hex'),
        body: JSON.stringify(out.body),
        status: 200,
        at: p.clock.now(),
      });
    }
    if (fault && fault.kind === 'reset_after' && fault.count > 0) {
      if (--fault.count <= 0) p.faults.delete(method);
      req.socket.destroy();
      return;
    }
    // `lost-answer`: the call (or a batch holding a command of the method) runs, then the connection drops
    const lostFor = lostAnswerFault(p, method, params);
    if (lostFor) {
      const f = p.faults.get(lostFor)!;
      if (--f.count <= 0) p.faults.delete(lostFor);
      req.socket.destroy();
      return;
    }
    this.send(res, out, route.xml);
  }

  /** Runs one call (top level or batch sub-call) and builds its envelope. */
  invoke(
    ctx: CallCtx,
    method: string,
    params: Params | unknown[],
    started = this.portal.clock.now(),
  ): Promise<Envelope> {
    return this.dispatcher.invoke(ctx, method, params, started);
  }
}

/**
 * The method whose `lost-answer` fault applies to this call: the method itself, or for `batch` the first command
 * (`method?query` or `{method}`) that has one.
 */
function lostAnswerFault(p: Portal, method: string, params: unknown): string | undefined {
  const has = (m: string) => {
    const f = p.faults.get(m);
    return !!f && f.kind === 'lost-answer' && f.count > 0;
  };
  if (has(method)) return method;
  if (method !== 'batch' || !params || typeof params !== 'object') return undefined;
  // REST 3.0 batch: a bare array of {method, query}
  const cmd = Array.isArray(params) ? params : (params as { cmd?: unknown }).cmd;
  if (!cmd || typeof cmd !== 'object') return undefined;
  for (const c of Object.values(cmd as Record<string, unknown>)) {
    const name = (typeof c === 'string' ? (c.split('?')[0] ?? '') : String((c as { method?: unknown })?.method ?? ''))
      .trim()
      .toLowerCase();
    if (has(name)) return name;
  }
  return undefined;
}

/** Reads and drops a request body (an answer before the body is read could reset a keep-alive connection). */
async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // discard
  }
}
