/**
 * The sandbox's own control endpoints under `/sandbox/` (loopback only; not part of Bitrix24): stats, injected
 * faults, limits and clock, extra webhooks, outgoing webhooks, token expiry, simulated activity, event drain, the
 * notifications users received (`GET /sandbox/notifications?user=<id>`), and the OAuth callback page. Also plays the injected faults (connection reset, 500, nginx 502 page, a hung
 * request, canned 503/429/401 answers as the portal gives them: doc _includes/system-errors.md,
 * settings/performance/limits.md, settings/oauth/error-codes.md on apidocs.bitrix24.com). The admin client of
 * start.ts is the other side of this file.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendEnvelope } from './envelope.js';
import { PLANS, type Plan } from './limits.js';
import { emptyStats, type Portal } from './portal.js';
import { readBody } from './request.js';
import { runSimulation } from './simulate.js';

function isLoopback(addr: string | undefined): boolean {
  return !!addr && (addr === '127.0.0.1' || addr === '::1' || addr === '::ffff:127.0.0.1' || addr.startsWith('127.'));
}

/** Answers a call with an injected fault of `kind` (see SandboxAdmin.faults) instead of running it. */
export function sendFault(portal: Portal, req: IncomingMessage, res: ServerResponse, kind: string): void {
  const p = portal;
  if (kind === 'reset') {
    req.socket.destroy();
    return;
  }
  if (kind === '500') {
    sendEnvelope(portal, res, {
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
    sendEnvelope(portal, res, { status: c[0], body: { error: c[1], error_description: c[2] } });
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

/** Serves one `/sandbox/*` request (JSON in, JSON out; 403 off loopback, 404 for an unknown path). */
export async function control(portal: Portal, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const p = portal;
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
  const raw = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0);
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
      p.stats = emptyStats();
      return json(200, { ok: true });
    case '/sandbox/faults': {
      const kinds = ['reset', '500', 'html', 'timeout', 'reset_after', 'lost-answer', '503', '429', '401'];
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
    case '/sandbox/notifications': {
      // what users received through im.notify.*: Bitrix24 has no REST method that reads them back
      const user = url.searchParams.get('user');
      const items = p.t.notification.rows
        .filter((n) => user === null || String(n.USER_ID) === user)
        .map((n) => ({
          ID: n.ID,
          USER_ID: n.USER_ID,
          MESSAGE: n.MESSAGE,
          TYPE: n.TYPE,
          TAG: n.TAG,
          DATE: n.DATE,
        }));
      return json(200, { items });
    }
    case '/sandbox/events/drain':
      await p.events.drain();
      return json(200, { ok: true, ...p.events.stats });
    default:
      return json(404, { error: 'NOT_FOUND', error_description: 'Unknown control endpoint' });
  }
}
