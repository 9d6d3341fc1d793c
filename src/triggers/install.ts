/**
 * `ONAPPINSTALL` at the online endpoint: the portal posts the app's tokens (`auth[access_token]`,
 * `auth[refresh_token]`, `auth[member_id]`, `auth[application_token]`, …) once, when the app is installed
 * (settings/app-installation/*, api-reference/events/index.md). Until then b24flow knows no `application_token`
 * for that portal, so it cannot verify the event by token. Instead the payload's refresh token is exchanged at the
 * configured OAuth server with the app's `client_id`/`client_secret` (settings/oauth/index.md): only a refresh token
 * the portal issued to this very app passes, the server's answer names the portal (`member_id`), and the tokens it
 * returns — never the payload's — are stored (rotation-safe: persisted before any use). Only then is the portal's
 * `application_token` accepted for its later events. The token URL comes from configuration, never from the payload
 * (`server_endpoint` is attacker-controlled in a forged event). The same verifier serves the install path
 * (src/triggers/installPage.ts), whose install page may carry no application token: the one stored before is kept.
 */
import { request } from 'undici';
import { tokensFromAnswer } from '../bitrix/auth/oauth.js';
import type { PortalRegistry } from '../bitrix/auth/registry.js';

/**
 * Verifies an install's `auth` block (ONAPPINSTALL's `auth`, or the install page's `AUTH_ID`/`REFRESH_ID`/… mapped
 * to the same keys); resolves with the portal and its application token (absent when the install carried none),
 * or a refusal reason.
 */
export type InstallVerifier = (
  auth: Record<string, unknown>,
) => Promise<{ ok: true; memberId: string; applicationToken?: string } | { ok: false; reason: string }>;

/** Default OAuth server token endpoint (settings/oauth/index.md). */
export const DEFAULT_TOKEN_URL = 'https://oauth.bitrix.info/oauth/token/';

/**
 * Builds the verifier for an OAuth app.
 * @param registry the app's portal registry (its token store receives the new portal's tokens)
 * @param opts.tokenUrl the OAuth token endpoint (`B24_OAUTH_TOKEN_URL`; the embedded sandbox's `/oauth/token/`),
 *   default {@link DEFAULT_TOKEN_URL}
 * @param opts.timeoutMs time limit of the exchange, ms (default 10 000)
 */
export function appInstallVerifier(
  registry: PortalRegistry,
  opts: { tokenUrl?: string; timeoutMs?: number } = {},
): InstallVerifier {
  return async (auth) => {
    const str = (v: unknown) => (typeof v === 'string' ? v : '');
    const memberId = str(auth.member_id);
    const refresh = str(auth.refresh_token);
    const appToken = str(auth.application_token);
    if (!memberId || !refresh) return { ok: false, reason: 'install-incomplete' };
    const url = new URL(opts.tokenUrl ?? registry.app.tokenUrl ?? DEFAULT_TOKEN_URL);
    url.searchParams.set('grant_type', 'refresh_token');
    url.searchParams.set('client_id', registry.app.clientId);
    url.searchParams.set('client_secret', registry.app.clientSecret);
    url.searchParams.set('refresh_token', refresh);
    let body: Record<string, unknown> | undefined;
    try {
      const res = await request(url, {
        method: 'GET',
        headers: { accept: 'application/json' },
        headersTimeout: opts.timeoutMs ?? 10_000,
        bodyTimeout: opts.timeoutMs ?? 10_000,
      });
      const text = await res.body.text();
      if (res.statusCode === 200) body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = undefined;
    }
    if (!body || body.error || typeof body.access_token !== 'string' || !body.access_token)
      return { ok: false, reason: 'install-unverified' };
    if (String(body.member_id ?? '') !== memberId) return { ok: false, reason: 'install-portal-mismatch' };
    // an install without an application token (the install page of some portals) keeps the one stored before
    const known = appToken ? undefined : (await registry.store.get(memberId).catch(() => undefined))?.application_token;
    const applicationToken = appToken || known;
    const tokens = tokensFromAnswer({
      ...body,
      // the token server may not repeat the portal's endpoints; the payload's are only used when it does not
      client_endpoint: body.client_endpoint ?? auth.client_endpoint,
      server_endpoint: body.server_endpoint ?? auth.server_endpoint,
      ...(applicationToken ? { application_token: applicationToken } : {}),
    });
    tokens.member_id = memberId;
    await registry.install(tokens);
    return { ok: true, memberId, ...(applicationToken ? { applicationToken } : {}) };
  };
}
