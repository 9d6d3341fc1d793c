/**
 * The HTTP front of the sandbox portal: URL forms (webhook, OAuth, REST 3.0), body decoding, auth, scopes,
 * the two limiters, envelopes and error dialects, batch, the OAuth server and the /sandbox/* control endpoints.
 * Sources: rest-protocol.md §1–§9 (and the doc pages it cites).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, argError, methodNotFound, v3Error } from './apiError.js';
import { PLANS, type Plan, simulatedCost } from './limits.js';
import { registerCrm } from './methods/crm.js';
import { genericMethod, registerSystem } from './methods/system.js';
import { registerTasks, registerV3Service } from './methods/tasks.js';
import { issueTokens, newCode, pruneTokens } from './oauth.js';
import { type Params, parseMultipart, parseQuery, pick, truthy } from './params.js';
import type { Portal } from './portal.js';
import { isoDate } from './portalTime.js';
import { type CallCtx, type MethodResult, type MethodSpec, Registry } from './registry.js';
import { runSimulation } from './simulate.js';

const MAX_BODY = 32 * 1024 * 1024;

/** Builds the method table. */
export function buildRegistry(portal: Portal): Registry {
  const r = new Registry();
  registerCrm(r);
  registerTasks(r, portal.def('task').fields);
  registerSystem(r);
  registerV3Service(r);
  return r;
}

interface Envelope {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const timeBlock = (startMs: number, endMs: number, procMs: number, op?: { operating: number; resetAt: number }) => {
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

const errBody = (e: ApiError) => ({ error: e.code, error_description: e.description });

const hookKeys = new Map<string, string>();
/** Operating-budget key of a webhook: a short hash, so the secret code never sits in budget maps or logs. */
function webhookKey(code: string): string {
  let k = hookKeys.get(code);
  if (!k) {
    k = 'wh:' + createHash('sha1').update(code).digest('hex').slice(0, 12);
    hookKeys.set(code, k);
  }
  return k;
}

function isLoopback(addr: string | undefined): boolean {
  return !!addr && (addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1' || addr.startsWith('127.'));
}

const SCOPE_ALIASES: Record<string, string[]> = {
  user: ['user', 'user_brief', 'user_basic'],
  task: ['task', 'tasks'],
  tasks: ['tasks', 'task'],
  sonet_group: ['sonet_group', 'socialnetwork'],
  basic: [],
};

function hasScope(ctx: CallCtx, scope: string): boolean {
  if (!ctx.scopes) return true;
  const alts = SCOPE_ALIASES[scope];
  if (alts && alts.length === 0) return true;
  return (alts ?? [scope]).some((s) => ctx.scopes!.has(s));
}

/** The request handler. */
export class SandboxServer {
  readonly registry: Registry;
  /** server-side latency probe (benchmarks): method, ms from request start to the last byte written */
  onTiming: ((method: string, ms: number) => void) | null = null;

  constructor(readonly portal: Portal) {
    this.registry = buildRegistry(portal);
    this.registry.add({ name: 'batch', scope: 'basic', noBatch: true, handler: (ctx, p) => this.batch(ctx, p) });
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
    const status = env.status;
    this.portal.stats.status[String(status)] = (this.portal.stats.status[String(status)] ?? 0) + 1;
    const body = xml ? toXml(env.body) : JSON.stringify(env.body);
    res.writeHead(status, {
      'content-type': xml ? 'text/xml; charset=utf-8' : 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...(env.headers ?? {}),
    });
    res.end(body);
  }

  private readBody(req: IncomingMessage): Promise<Buffer> {
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

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const path = url.pathname;
    if (path.startsWith('/sandbox/')) return this.control(req, res, url);
    if (path === '/oauth/authorize/' || path === '/oauth/authorize') return this.authorize(res, url);
    if (path === '/oauth/token/' || path === '/oauth/token') return this.token(req, res, url);
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

  private async params(
    req: IncomingMessage,
    url: URL,
    v3: boolean,
  ): Promise<{ params: Params | unknown[]; raw: Buffer }> {
    const raw = req.method === 'GET' || req.method === 'HEAD' ? Buffer.alloc(0) : await this.readBody(req);
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

  /** Resolves auth → context, or throws the v1 auth error. */
  private auth(route: { userId?: string; code?: string; v3: boolean }, params: any, connector: string): CallCtx {
    const p = this.portal;
    if (route.code !== undefined) {
      const hook = p.webhooks.get(route.code);
      if (!hook || String(hook.userId) !== route.userId)
        throw new ApiError(401, 'NO_AUTH_FOUND', 'Wrong authorization data');
      return {
        portal: p,
        userId: hook.userId,
        authKind: 'webhook',
        authKey: webhookKey(route.code),
        scopes: hook.scopes ? new Set(hook.scopes) : null,
        v3: route.v3,
        inBatch: false,
        connector,
      };
    }
    const token = params && !Array.isArray(params) ? params.auth : undefined;
    if (!token) throw new ApiError(401, 'NO_AUTH_FOUND', 'Wrong authorization data');
    const t = p.oauth.access[String(token)];
    if (!t) throw new ApiError(401, 'invalid_token', 'The access token provided is invalid.');
    if (t.expires <= p.clock.now()) throw new ApiError(401, 'expired_token', 'The access token provided has expired.');
    return {
      portal: p,
      userId: t.userId,
      authKind: 'oauth',
      authKey: 'app:' + p.oauth.app.clientId,
      scopes: new Set(t.scope),
      v3: route.v3,
      inBatch: false,
      connector,
    };
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
    const fault = p.faults.get(method);
    if (fault && fault.count > 0 && fault.kind !== 'reset_after') {
      if (--fault.count <= 0) p.faults.delete(method);
      return this.fault(req, res, fault.kind);
    }
    const fail = (e: ApiError) =>
      this.send(res, { status: e.status, body: route.v3 ? v3Body(e) : errBody(e) }, route.xml);
    let params: Params | unknown[];
    let raw: Buffer;
    try {
      ({ params, raw } = await this.params(req, url, route.v3));
    } catch (e) {
      if (e instanceof ApiError) return fail(e);
      throw e;
    }
    let ctx: CallCtx;
    try {
      const connector = !Array.isArray(params) ? String((params as Params).auth_connector ?? '') : '';
      ctx = this.auth(route, params, connector);
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
        ? await this.v3batch(ctx, params)
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
    this.send(res, out, route.xml);
  }

  /** Runs one call (top level or batch sub-call) and builds its envelope. */
  async invoke(
    ctx: CallCtx,
    method: string,
    params: Params | unknown[],
    started = this.portal.clock.now(),
  ): Promise<Envelope> {
    const p = this.portal;
    const wrap = (e: ApiError): Envelope => ({ status: e.status, body: ctx.v3 ? v3Body(e) : errBody(e) });
    const spec: MethodSpec | undefined =
      this.registry.get(method, ctx.v3) ?? (ctx.v3 ? undefined : genericMethod(method));
    if (!spec) {
      return wrap(ctx.v3 ? v3Error(404, 'METHODNOTFOUNDEXCEPTION', 'Method not found') : methodNotFound());
    }
    if (ctx.inBatch && spec.noBatch)
      return wrap(new ApiError(405, 'ERROR_BATCH_METHOD_NOT_ALLOWED', 'Method is not allowed for batch usage'));
    if (spec.appOnly && ctx.authKind === 'webhook') {
      return wrap(new ApiError(403, 'WRONG_AUTH_TYPE', 'Current authorization type is denied for this method'));
    }
    if (!hasScope(ctx, spec.scope)) {
      return wrap(
        ctx.v3
          ? v3Error(403, 'INSUFFICIENTSCOPEEXCEPTION', 'Insufficient scope')
          : new ApiError(
              403,
              'insufficient_scope',
              // inside batch the portal answers this code with an empty description (batch.md error example)
              ctx.inBatch ? '' : 'The request requires higher privileges than provided by the webhook token',
            ),
      );
    }
    const opKey = ctx.authKey + '|' + method;
    const nowSec = p.clock.nowSec();
    if (spec.name !== 'batch' && p.budget.blocked(opKey, nowSec)) {
      return wrap(new ApiError(429, 'OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit.'));
    }
    const args = positional(spec, params);
    const t0 = performance.now();
    let r: MethodResult;
    try {
      r = await spec.handler(ctx, args);
    } catch (e) {
      if (!(e instanceof ApiError)) {
        p.opts.log(`sandbox: ${spec.name} failed: ${(e as Error).stack ?? e}`);
        p.budget.charge(opKey, nowSec, simulatedCost(0, 0, false));
        return wrap(new ApiError(500, 'INTERNAL_SERVER_ERROR', 'Internal server error'));
      }
      p.budget.charge(opKey, nowSec, simulatedCost(0, 0, false));
      return wrap(e);
    }
    const procMs = performance.now() - t0;
    if (r.write) p.stats.writes[spec.name.toLowerCase()] = (p.stats.writes[spec.name.toLowerCase()] ?? 0) + 1;
    let op: { operating: number; resetAt: number } | undefined;
    if (spec.name !== 'batch') {
      p.budget.charge(
        opKey,
        nowSec,
        simulatedCost(r.rows ?? (Array.isArray(r.result) ? r.result.length : 1), r.counted ?? 0, !!r.write),
      );
      op = p.budget.state(opKey, nowSec);
    }
    const end = Math.max(p.clock.now(), started + procMs);
    const body: Record<string, unknown> = { result: r.result };
    if (!ctx.v3) {
      if (r.total !== undefined) body.total = r.total;
      if (r.next !== undefined) body.next = r.next;
    }
    body.time = timeBlock(started, end, procMs, op);
    return {
      status: 200,
      body,
      headers: {
        'x-bitrix-rest-time': String((end - started) / 1000),
        'x-bitrix-rest-user-time': String(procMs / 1000),
        'x-bitrix-rest-system-time': '0',
        ...(ctx.authKind === 'oauth' ? { 'x-bitrix-rest-application': p.oauth.app.clientId } : {}),
      },
    };
  }

  /** v1 batch (settings/how-to-call-rest-api/batch.md). */
  private async batch(ctx: CallCtx, p: Params): Promise<MethodResult> {
    const cmdIn = pick(p, 'cmd');
    if (!cmdIn || typeof cmdIn !== 'object') throw argError('Empty batch query', 'ERROR_ARGUMENT');
    const isList = Array.isArray(cmdIn);
    const entries = Object.entries(cmdIn as Record<string, unknown>);
    if (entries.length > 50) throw new ApiError(400, 'ERROR_BATCH_LENGTH_EXCEEDED', 'Max batch length exceeded');
    const halt = truthy(pick(p, 'halt'));
    const result: Record<string, unknown> = {};
    const errors: Record<string, unknown> = {};
    const totals: Record<string, unknown> = {};
    const nexts: Record<string, unknown> = {};
    const times: Record<string, unknown> = {};
    let rows = 0;
    for (const [key, cmd] of entries) {
      const text = String(cmd ?? '');
      const q = text.indexOf('?');
      const method = (q < 0 ? text : text.slice(0, q)).trim().toLowerCase();
      let params: Params = parseQuery(q < 0 ? '' : text.slice(q + 1));
      delete params.auth;
      params = substitute(params, { result, result_total: totals, result_next: nexts }) as Params;
      const sub: CallCtx = { ...ctx, inBatch: true, connector: String(params.auth_connector ?? ctx.connector) };
      const env = await this.invoke(sub, method, params);
      const b = env.body as Record<string, any>;
      if (env.status === 200) {
        result[key] = b.result;
        if (b.total !== undefined) totals[key] = b.total;
        if (b.next !== undefined) nexts[key] = b.next;
        times[key] = b.time;
        rows += Array.isArray(b.result) ? b.result.length : 1;
      } else {
        errors[key] = b;
        if (halt) break;
      }
    }
    const section = (o: Record<string, unknown>) => {
      const keys = Object.keys(o);
      if (!keys.length) return [];
      if (isList && keys.every((k, i) => k === String(i))) return Object.values(o);
      return o;
    };
    return {
      result: {
        result: section(result),
        result_error: section(errors),
        result_total: section(totals),
        result_next: section(nexts),
        result_time: section(times),
      },
      rows,
    };
  }

  /** REST 3.0 batch: a bare JSON array of `{method, query}`; result is an array in order. */
  private async v3batch(ctx: CallCtx, params: unknown): Promise<Envelope> {
    const started = this.portal.clock.now();
    if (!Array.isArray(params)) {
      return {
        status: 400,
        body: v3Body(v3Error(400, 'VALIDATION_REQUESTVALIDATIONEXCEPTION', 'Batch body must be an array')),
      };
    }
    if (params.length > 50)
      return {
        status: 400,
        body: v3Body(v3Error(400, 'VALIDATION_REQUESTVALIDATIONEXCEPTION', 'Max batch length exceeded')),
      };
    const out: unknown[] = [];
    for (const c of params as any[]) {
      const env = await this.invoke({ ...ctx, inBatch: true }, String(c?.method ?? '').toLowerCase(), c?.query ?? {});
      out.push(env.status === 200 ? (env.body as any).result : (env.body as any));
    }
    return { status: 200, body: { result: out, time: timeBlock(started, this.portal.clock.now(), 0) } };
  }

  private fault(req: IncomingMessage, res: ServerResponse, kind: string): void {
    const p = this.portal;
    if (kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (kind === '500') {
      this.send(res, {
        status: 500,
        body: { error: 'INTERNAL_SERVER_ERROR', error_description: 'Internal server error' },
      });
      return;
    }
    const canned: Record<string, [number, string, string]> = {
      '503': [503, 'QUERY_LIMIT_EXCEEDED', 'Too many requests'],
      '429': [429, 'OPERATION_TIME_LIMIT', 'Method is blocked due to operation time limit.'],
      '401': [401, 'expired_token', 'The access token provided has expired.'],
    };
    const c = canned[kind];
    if (c) {
      this.send(res, { status: c[0], body: { error: c[1], error_description: c[2] } });
      return;
    }
    if (kind === 'html') {
      const html =
        '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>';
      p.stats.status['502'] = (p.stats.status['502'] ?? 0) + 1;
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end(html);
      return;
    }
    // timeout: hold the request without answering; the socket is destroyed after 65 s (server timeout)
    const timer = setTimeout(() => req.socket.destroy(), 65_000);
    timer.unref();
    req.socket.once('close', () => clearTimeout(timer));
  }

  // ---------------------------------------------------------------- OAuth server
  private authorize(res: ServerResponse, url: URL): void {
    const p = this.portal;
    const q = Object.fromEntries(url.searchParams);
    if (q.client_id !== p.oauth.app.clientId) {
      this.send(res, { status: 400, body: { error: 'invalid_client', error_description: 'Invalid client' } });
      return;
    }
    const userId = Number(q.user_id ?? 1);
    const code = newCode(p.oauth, p.t.user.get(userId) ? userId : 1, p.clock.now());
    p.dirty();
    const back =
      q.redirect_uri && /^https?:\/\//.test(q.redirect_uri) ? q.redirect_uri : p.baseUrl + '/sandbox/oauth/callback';
    const target = new URL(back);
    target.searchParams.set('code', code);
    if (q.state !== undefined) target.searchParams.set('state', q.state);
    target.searchParams.set('domain', p.domain());
    target.searchParams.set('member_id', p.oauth.app.memberId);
    target.searchParams.set('scope', p.oauth.app.scope.join(','));
    target.searchParams.set('server_domain', p.domain());
    res.writeHead(302, { location: target.toString(), 'content-length': 0 });
    res.end();
  }

  private async token(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const p = this.portal;
    const raw = req.method === 'POST' ? await this.readBody(req) : Buffer.alloc(0);
    const q: Params = parseQuery(url.search.slice(1));
    if (raw.length) {
      const type = String(req.headers['content-type'] ?? '');
      if (type.includes('json')) Object.assign(q, JSON.parse(raw.toString('utf8')));
      else parseQuery(raw.toString('utf8'), q);
    }
    const bad = (status: number, error: string, description: string) =>
      this.send(res, { status, body: { error, error_description: description } });
    const app = p.oauth.app;
    if (q.client_id !== app.clientId || q.client_secret !== app.clientSecret)
      return bad(401, 'invalid_client', 'Invalid client credentials');
    const now = p.clock.now();
    pruneTokens(p.oauth, now);
    let userId: number;
    if (q.grant_type === 'authorization_code') {
      const c = p.oauth.codes[String(q.code)];
      if (!c || c.expires < now) return bad(400, 'invalid_grant', 'Invalid authorization code');
      delete p.oauth.codes[String(q.code)];
      userId = c.userId;
      app.installed = true;
    } else if (q.grant_type === 'refresh_token') {
      const r = p.oauth.refresh[String(q.refresh_token)];
      if (!r || r.used || r.expires < now) return bad(400, 'invalid_grant', 'Invalid refresh token');
      r.used = true;
      userId = r.userId;
    } else return bad(400, 'invalid_request', 'Unsupported grant_type');
    const t = issueTokens(p.oauth, userId, now);
    p.dirty();
    this.send(res, {
      status: 200,
      body: {
        access_token: t.access_token,
        expires: t.expires,
        expires_in: 3600,
        scope: app.scope.join(','),
        domain: p.domain(),
        server_endpoint: p.baseUrl + '/rest/',
        status: 'L',
        client_endpoint: p.baseUrl + '/rest/',
        member_id: app.memberId,
        user_id: userId,
        refresh_token: t.refresh_token,
      },
    });
  }

  // ---------------------------------------------------------------- control endpoints
  private async control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const p = this.portal;
    const json = (status: number, body: unknown) => {
      const s = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(s),
      });
      res.end(s);
    };
    if (url.pathname === '/sandbox/oauth/callback') return json(200, Object.fromEntries(url.searchParams));
    if (!isLoopback(req.socket.remoteAddress))
      return json(403, { error: 'ACCESS_DENIED', error_description: 'Control endpoints answer on loopback only' });
    const raw = req.method === 'POST' ? await this.readBody(req) : Buffer.alloc(0);
    let body: any = {};
    if (raw.length) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return json(400, { error: 'ERROR_ARGUMENT', error_description: 'JSON body expected' });
      }
    }
    switch (url.pathname) {
      case '/sandbox/stats':
        return json(200, { ...p.stats, events: p.events.stats, offlineQueue: p.events.offline.length });
      case '/sandbox/stats/reset':
        p.stats = { requests: 0, byMethod: {}, status: {}, writes: {} };
        return json(200, { ok: true });
      case '/sandbox/faults': {
        const kinds = ['reset', '500', 'html', 'timeout', 'reset_after', '503', '429', '401'];
        if (!body.method || !kinds.includes(body.kind))
          return json(400, {
            error: 'ERROR_ARGUMENT',
            error_description: `method and kind (${kinds.join('|')}) are required`,
          });
        p.faults.set(String(body.method).toLowerCase(), { kind: body.kind, count: Number(body.count ?? 1) });
        return json(200, { ok: true });
      }
      case '/sandbox/limits': {
        if (body.plan !== undefined) {
          if (!(body.plan in PLANS))
            return json(400, {
              error: 'ERROR_ARGUMENT',
              error_description: 'plan must be standard|enterprise|unlimited',
            });
          p.bucket.plan = body.plan as Plan;
        }
        if (body.operatingLimit !== undefined) p.budget.limit = Number(body.operatingLimit);
        if (body.clockFactor !== undefined) p.clock.setFactor(Number(body.clockFactor));
        if (body.reset) {
          p.bucket.reset();
          p.budget.reset();
        }
        return json(200, { plan: p.bucket.plan, operatingLimit: p.budget.limit, clockFactor: p.clock.clockFactor });
      }
      case '/sandbox/webhooks': {
        const scopes = Array.isArray(body.scopes) ? body.scopes.map(String) : null;
        const userId = Number(body.userId ?? 1);
        if (!p.t.user.get(userId)) return json(400, { error: 'ERROR_ARGUMENT', error_description: 'unknown userId' });
        const code = p.addWebhook(userId, scopes);
        return json(200, { webhookUrl: `${p.baseUrl}/rest/${userId}/${code}/` });
      }
      case '/sandbox/outgoing': {
        // an outgoing webhook as configured in the portal UI: online delivery without OAuth tokens
        const event = String(body.event ?? '').toUpperCase();
        if (!event || !/^https?:\/\//.test(String(body.handler ?? ''))) {
          return json(400, { error: 'ERROR_ARGUMENT', error_description: 'event and an http(s) handler are required' });
        }
        const token = randomBytes(16).toString('hex');
        const hub = p.events;
        const id = hub.nextBindingId++;
        hub.bindings.push({
          ID: id,
          event,
          handler: String(body.handler),
          authType: 0,
          offline: false,
          connector: '',
          minTimeout: 0,
          lastNotify: 0,
          outgoingToken: token,
        });
        p.dirty();
        return json(200, { id, applicationToken: token });
      }
      case '/sandbox/tokens/expire': {
        const now = p.clock.now();
        for (const t of Object.values(p.oauth.access)) t.expires = Math.min(t.expires, now - 1);
        p.dirty();
        return json(200, { ok: true });
      }
      case '/sandbox/time': {
        p.clock.advance(Number(body.advanceSeconds ?? 0));
        return json(200, { now: p.nowIso() });
      }
      case '/sandbox/simulate': {
        const r = await runSimulation(p, body);
        return json(200, r);
      }
      case '/sandbox/events/drain':
        await p.events.drain();
        return json(200, { ok: true, ...p.events.stats });
      default:
        return json(404, { error: 'NOT_FOUND', error_description: 'Unknown control endpoint' });
    }
  }
}

/** Maps positional params (`0`, `1`, … or a JSON array) to the method's named params. */
function positional(spec: MethodSpec, params: Params | unknown[]): Params {
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

/** Replaces `$result[cmd][a][b]` (and `$result_total`/`$result_next`) references in batch sub-call params. */
function substitute(v: unknown, ctx: Record<string, Record<string, unknown>>): unknown {
  if (typeof v === 'string') {
    const full = /^\$(result|result_total|result_next)((?:\[[^\]]*\])+)$/.exec(v);
    if (full) return lookup(ctx, full[1]!, full[2]!);
    return v.replace(/\$(result|result_total|result_next)((?:\[[^\]]*\])+)/g, (_, sec: string, path: string) => {
      const x = lookup(ctx, sec, path);
      return x === undefined || x === null ? '' : typeof x === 'object' ? JSON.stringify(x) : String(x);
    });
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, ctx));
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = substitute(x, ctx);
    return o;
  }
  return v;
}

function lookup(ctx: Record<string, Record<string, unknown>>, section: string, path: string): unknown {
  const keys = [...path.matchAll(/\[([^\]]*)\]/g)].map((m) => m[1]!);
  let cur: any = ctx[section];
  for (const k of keys) {
    if (cur === null || cur === undefined) return undefined;
    cur = cur[k];
  }
  return cur;
}

function v3Body(e: ApiError): unknown {
  const code = e.code.startsWith('BITRIX_REST_V3_') ? e.code : e.code || 'BITRIX_REST_V3_EXCEPTION_UNKNOWN';
  const err: Record<string, unknown> = { code, message: e.description };
  if (e.validation) err.validation = e.validation;
  return { error: err };
}

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
