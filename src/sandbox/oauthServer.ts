/**
 * The portal's OAuth 2.0 server: `/oauth/authorize/` (302 to the app's redirect_uri with `code`, `domain`,
 * `member_id`, `scope`, `server_domain`) and `/oauth/token/` (grant_type authorization_code or refresh_token;
 * refresh tokens rotate and are single-use, access tokens expire after an hour). Sources:
 * apidocs.bitrix24.com/settings/oauth/index.html (doc settings/oauth/index.md, auto-renewal.md, error-codes.md);
 * rest-protocol.md §7.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendEnvelope } from './envelope.js';
import { issueTokens, newCode, pruneTokens, serverEndpoint } from './oauth.js';
import { type Params, parseQuery } from './params.js';
import type { Portal } from './portal.js';
import { readBody } from './request.js';

/** `/oauth/authorize/`: an unknown client_id → 400 invalid_client; otherwise a 302 carrying a fresh code. */
export function authorize(portal: Portal, res: ServerResponse, url: URL): void {
  const p = portal;
  const q = Object.fromEntries(url.searchParams);
  if (q.client_id !== p.oauth.app.clientId) {
    sendEnvelope(portal, res, { status: 400, body: { error: 'invalid_client', error_description: 'Invalid client' } });
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

/** The body of an `/oauth/token/` answer and its HTTP status. */
export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Reads the parameters of an `/oauth/token/` request: query, then a form or JSON body. */
export async function tokenParams(req: IncomingMessage, url: URL): Promise<Params> {
  const raw = req.method === 'POST' ? await readBody(req) : Buffer.alloc(0);
  const q: Params = parseQuery(url.search.slice(1));
  if (raw.length) {
    const type = String(req.headers['content-type'] ?? '');
    if (type.includes('json')) Object.assign(q, JSON.parse(raw.toString('utf8')));
    else parseQuery(raw.toString('utf8'), q);
  }
  return q;
}

/**
 * One token grant of a portal's application (settings/oauth/index.md): wrong client credentials → 401
 * invalid_client, a bad or used code / refresh token → 400 invalid_grant, another grant_type → 400 invalid_request;
 * otherwise a new token pair (`expires_in` from the portal's access-token lifetime).
 */
export function tokenGrant(portal: Portal, q: Params): TokenAnswer {
  const p = portal;
  const bad = (status: number, error: string, description: string): TokenAnswer => ({
    status,
    body: { error, error_description: description },
  });
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
  return {
    status: 200,
    body: {
      access_token: t.access_token,
      expires: t.expires,
      expires_in: t.expires_in,
      scope: app.scope.join(','),
      domain: p.domain(),
      server_endpoint: serverEndpoint(p.oauth, p.baseUrl),
      status: 'L',
      client_endpoint: p.baseUrl + '/rest/',
      member_id: app.memberId,
      user_id: userId,
      refresh_token: t.refresh_token,
    },
  };
}

/** `/oauth/token/` (query, form or JSON body): {@link tokenGrant} of this portal. */
export async function token(portal: Portal, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  sendEnvelope(portal, res, tokenGrant(portal, await tokenParams(req, url)));
}
