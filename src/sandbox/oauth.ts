/**
 * The portal's OAuth 2.0 side (settings/oauth/index.md, auto-renewal.md): one local application with
 * authorization codes (30 s), access tokens (3600 s, sandbox clock) and single-use rotating refresh tokens
 * (180 days). Reusing a refresh token → `invalid_grant`; an expired access token → 401 `expired_token`.
 */
import { randomBytes } from 'node:crypto';

/** The registered local application. */
export interface OAuthApp {
  clientId: string;
  clientSecret: string;
  memberId: string;
  applicationToken: string;
  scope: string[];
  installed: boolean;
}

/** An issued access token. */
export interface AccessToken {
  userId: number;
  expires: number; // ms, sandbox clock
  scope: string[];
}

/** Token state (persisted with --data). */
export interface OAuthState {
  app: OAuthApp;
  access: Record<string, AccessToken>;
  refresh: Record<string, { userId: number; expires: number; used: boolean; scope: string[] }>;
  codes: Record<string, { userId: number; expires: number }>;
  /** Access-token lifetime override, ms (tests of refresh-before-expiry; default {@link ACCESS_TTL}). */
  accessTtlMs?: number;
  /**
   * The OAuth server the portal names as `server_endpoint` (`<url>/rest/`): an {@link startOAuthHub} that fronts
   * several sandbox portals, as oauth.bitrix.info does for real ones; default the portal's own address.
   */
  serverUrl?: string;
}

const hex = (n: number) => randomBytes(n).toString('hex');

/** Creates a fresh application registration. */
export function newOAuthState(scope: string[]): OAuthState {
  return {
    app: {
      clientId: 'local.' + hex(7) + '.' + String(Math.floor(Math.random() * 1e8)).padStart(8, '0'),
      clientSecret: hex(24),
      memberId: hex(16),
      applicationToken: hex(16),
      scope,
      installed: false,
    },
    access: {},
    refresh: {},
    codes: {},
  };
}

/** Access-token lifetime, ms (one hour). */
export const ACCESS_TTL = 3600_000;
/** Refresh-token lifetime, ms (180 days). */
export const REFRESH_TTL = 180 * 86_400_000;
/** Authorization-code lifetime, ms (30 s). */
export const CODE_TTL = 30_000;

/** Issues an access/refresh pair; `expires_in` in seconds (3600 unless {@link OAuthState.accessTtlMs} says). */
export function issueTokens(s: OAuthState, userId: number, now: number, scope = s.app.scope) {
  const access_token = hex(32);
  const refresh_token = hex(32);
  const ttl = s.accessTtlMs ?? ACCESS_TTL;
  s.access[access_token] = { userId, expires: now + ttl, scope };
  s.refresh[refresh_token] = { userId, expires: now + REFRESH_TTL, used: false, scope };
  return { access_token, refresh_token, expires: Math.floor((now + ttl) / 1000), expires_in: Math.round(ttl / 1000) };
}

/** The `server_endpoint` a portal names in token answers and event auth: its OAuth server's `/rest/`. */
export function serverEndpoint(s: OAuthState, baseUrl: string): string {
  return `${s.serverUrl ?? baseUrl}/rest/`;
}

/** Drops expired entries so the maps do not grow without bound. */
export function pruneTokens(s: OAuthState, now: number): void {
  for (const [k, v] of Object.entries(s.access)) if (v.expires < now - 86_400_000) delete s.access[k];
  for (const [k, v] of Object.entries(s.refresh)) if (v.expires < now) delete s.refresh[k];
  for (const [k, v] of Object.entries(s.codes)) if (v.expires < now) delete s.codes[k];
}

/** Creates an authorization code. */
export function newCode(s: OAuthState, userId: number, now: number): string {
  const code = hex(20);
  s.codes[code] = { userId, expires: now + CODE_TTL };
  return code;
}
