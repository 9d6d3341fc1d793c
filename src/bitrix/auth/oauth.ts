/**
 * OAuth 2.0 application authentication with single-flight, rotation-safe refresh per portal.
 * Source: settings/oauth/index.md, settings/oauth/auto-renewal.md (refresh on 401 `expired_token`; every refresh
 * returns a new refresh token which must be stored before use; `invalid_grant` = expired/used refresh token).
 */
import { request } from 'undici';
import { registerSecret } from '../redact.js';
import { errorFromResponse, OAuthError, TenantIsolationError } from '../restErrors.js';
import type { AuthCredentials, AuthProvider } from './provider.js';
import type { PortalTokens, TokenStore } from './tokenStore.js';

/** The OAuth application (from the app card: client_id / client_secret). */
export interface OAuthApp {
  clientId: string;
  clientSecret: string;
  /** Token endpoint override (default: `/oauth/token/` on the portal's `server_endpoint` host). */
  tokenUrl?: string;
}

/** Normalises a token answer (`/oauth/token/` or an install payload) into {@link PortalTokens}. */
export function tokensFromAnswer(answer: object, nowSec = Date.now() / 1000): PortalTokens {
  const a = answer as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : undefined);
  const expiresIn = num(a.expires_in) ?? 3600;
  const endpoint = String(a.client_endpoint ?? '');
  let domain = String(a.domain ?? '');
  // The token endpoint answers domain = oauth server; the portal host is in client_endpoint.
  if (endpoint) {
    try {
      domain = new URL(endpoint).host;
    } catch {}
  }
  const t: PortalTokens = {
    member_id: String(a.member_id ?? ''),
    domain,
    client_endpoint: endpoint,
    server_endpoint: String(a.server_endpoint ?? ''),
    access_token: String(a.access_token ?? ''),
    refresh_token: String(a.refresh_token ?? ''),
    expires_at: num(a.expires) ?? Math.floor(nowSec + expiresIn),
  };
  if (a.scope !== undefined) t.scope = String(a.scope);
  if (a.application_token !== undefined) t.application_token = String(a.application_token);
  const uid = num(a.user_id);
  if (uid !== undefined) t.user_id = uid;
  registerSecret(t.access_token);
  registerSecret(t.refresh_token);
  registerSecret(t.application_token);
  return t;
}

/**
 * Authentication of one portal (`member_id`) through an OAuth app. Obtain instances through
 * {@link PortalRegistry} (src/bitrix/auth/registry.ts) so every transport and client of the process shares the same
 * object — and therefore the same single-flight refresh.
 */
export class OAuthAuth implements AuthProvider {
  readonly kind = 'oauth' as const;
  refreshes = 0;
  private current: PortalTokens | undefined;
  private inflight: Promise<void> | null = null;

  constructor(
    readonly portalId: string,
    private readonly app: OAuthApp,
    private readonly store: TokenStore,
  ) {
    registerSecret(app.clientSecret);
  }

  private async load(): Promise<PortalTokens> {
    if (this.current) return this.current;
    const t = await this.store.get(this.portalId);
    if (!t)
      throw new OAuthError({
        code: 'NO_TOKENS',
        status: 0,
        method: '',
        dialect: 'oauth',
        description: `no stored tokens for portal ${this.portalId}`,
        hint: 'Install the application on the portal (the install callback stores the tokens)',
      });
    this.check(t);
    this.current = t;
    return t;
  }

  /** Strict tenant isolation: a record must belong to this portal. */
  private check(t: PortalTokens): void {
    if (t.member_id !== this.portalId)
      throw new TenantIsolationError({
        code: 'TENANT_MISMATCH',
        status: 0,
        method: '',
        dialect: 'oauth',
        description: `the token record stored for portal ${this.portalId} belongs to portal ${t.member_id}; refused`,
      });
  }

  async credentials(): Promise<AuthCredentials> {
    const t = await this.load();
    const base = t.client_endpoint.endsWith('/') ? t.client_endpoint : `${t.client_endpoint}/`;
    return { v2Base: base, v3Base: `${base}api/`, accessToken: t.access_token, portalId: t.member_id };
  }

  async refresh(staleToken: string | undefined): Promise<void> {
    const cur = await this.load();
    if (staleToken !== undefined && cur.access_token !== staleToken) return; // someone already refreshed
    if (this.inflight) return this.inflight;
    this.inflight = this.doRefresh(cur).finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private tokenUrl(t: PortalTokens): string {
    if (this.app.tokenUrl) return this.app.tokenUrl;
    const server = t.server_endpoint || 'https://oauth.bitrix.info/rest/';
    return new URL('/oauth/token/', server).toString();
  }

  /**
   * One refresh, single-flight across processes when the store can lock the portal (`TokenStore.exclusive`): the
   * holder refreshes, the others wait for its lock and then find the rotated record in the store.
   */
  private doRefresh(cur: PortalTokens): Promise<void> {
    return this.store.exclusive
      ? this.store.exclusive(this.portalId, () => this.refreshNow(cur))
      : this.refreshNow(cur);
  }

  private async refreshNow(cur: PortalTokens): Promise<void> {
    // Another process may have rotated the tokens already: prefer the stored record when it is newer.
    const stored = await this.store.get(this.portalId);
    if (stored) {
      this.check(stored);
      if (stored.access_token !== cur.access_token) {
        this.current = stored;
        return;
      }
    }
    const url = new URL(this.tokenUrl(cur));
    url.searchParams.set('grant_type', 'refresh_token');
    url.searchParams.set('client_id', this.app.clientId);
    url.searchParams.set('client_secret', this.app.clientSecret);
    url.searchParams.set('refresh_token', cur.refresh_token);
    const res = await request(url, { method: 'GET', headers: { accept: 'application/json' } });
    const text = await res.body.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (res.statusCode !== 200 || !body || body.error || !body.access_token) {
      if (body?.error === 'invalid_grant') {
        // Rotation by another process between our read and our request: adopt its record.
        const again = await this.store.get(this.portalId);
        if (again && again.refresh_token !== cur.refresh_token) {
          this.check(again);
          this.current = again;
          return;
        }
      }
      throw errorFromResponse(res.statusCode, body ?? undefined, text, { method: 'oauth/token', authKind: 'oauth' });
    }
    const next = tokensFromAnswer(body);
    if (!next.member_id) next.member_id = cur.member_id;
    if (!next.client_endpoint) next.client_endpoint = cur.client_endpoint;
    if (!next.domain) next.domain = cur.domain;
    if (!next.server_endpoint) next.server_endpoint = cur.server_endpoint;
    if (next.application_token === undefined && cur.application_token !== undefined)
      next.application_token = cur.application_token;
    this.check(next);
    // Rotation safety: the new refresh token is persisted before anything uses the new access token.
    await this.store.set(this.portalId, next);
    this.current = next;
    this.refreshes++;
  }

  async changeDomain(newOrigin: string): Promise<void> {
    const cur = await this.load();
    const origin = new URL(newOrigin).origin;
    const old = new URL(cur.client_endpoint);
    const next: PortalTokens = {
      ...cur,
      client_endpoint: `${origin}${old.pathname}`,
      domain: new URL(origin).host,
    };
    await this.store.set(this.portalId, next);
    this.current = next;
  }

  /**
   * Refreshes ahead of expiry: re-reads the stored record (another process may have rotated it) and refreshes when
   * its access token expires within `marginSec` (settings/oauth/auto-renewal.md: every refresh rotates the refresh
   * token, which is stored before use). Across processes it is single-flight through `TokenStore.exclusive`: the
   * holder refreshes, the others find the rotated record inside the lease and adopt it instead of refreshing.
   * @param nowSec the current time, Unix seconds
   * @returns true when this call refreshed (false: not due, no expiry known, or another process had refreshed)
   * @throws OAuthError (`invalid_grant` when the refresh token is no longer valid, NO_TOKENS when none is stored)
   */
  async refreshIfExpiring(marginSec: number, nowSec = Date.now() / 1000): Promise<boolean> {
    this.current = undefined;
    const cur = await this.load();
    if (!cur.expires_at || cur.expires_at - nowSec > marginSec) return false;
    const before = this.refreshes;
    await this.refresh(cur.access_token);
    return this.refreshes > before;
  }

  /** Forgets the cached record (the next call re-reads the store). */
  invalidate(): void {
    this.current = undefined;
  }
}
