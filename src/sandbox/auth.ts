/**
 * Who is calling: an incoming webhook (`/rest/{user}/{code}/`, scopes per webhook) or an OAuth access token
 * (`auth` parameter; invalid → invalid_token, expired → expired_token), and whether the granted scopes cover a
 * method (with the portal's scope aliases). Sources (apidocs.bitrix24.com/<path>.html):
 * local-integrations/local-webhooks.md, settings/oauth/index.md, settings/oauth/error-codes.md,
 * api-reference/common/system/scope.md; rest-protocol.md §1, §7, §9.
 */
import { createHash } from 'node:crypto';
import { ApiError } from './apiError.js';
import type { Portal } from './portal.js';
import type { CallCtx } from './registry.js';

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

/** A scope that also admits its aliases; an empty list means "no scope needed" (basic). */
const SCOPE_ALIASES: Record<string, string[]> = {
  user: ['user', 'user_brief', 'user_basic'],
  task: ['task', 'tasks'],
  tasks: ['tasks', 'task'],
  sonet_group: ['sonet_group', 'socialnetwork'],
  basic: [],
};

/** Whether the caller's scopes cover `scope` (null scopes = a webhook with every scope). */
export function hasScope(ctx: CallCtx, scope: string): boolean {
  if (!ctx.scopes) return true;
  const alts = SCOPE_ALIASES[scope];
  if (alts && alts.length === 0) return true;
  return (alts ?? [scope]).some((s) => ctx.scopes!.has(s));
}

/**
 * Resolves the caller of a REST call into its {@link CallCtx}: a webhook route (`code` set) must name a known
 * webhook of that user; otherwise `params.auth` must be a live access token. REST 3.0 reads its params from the JSON
 * body only, so a bare-array body (the REST 3.0 batch) has no `auth` member: there `queryAuth` (the URL's `auth`)
 * stands in — an input not checked against a real portal. Token errors are the same on both APIs.
 * @throws ApiError 401 NO_AUTH_FOUND / invalid_token / expired_token
 */
export function resolveAuth(
  portal: Portal,
  route: { userId?: string; code?: string; v3: boolean },
  params: any,
  connector: string,
  queryAuth?: string | null,
): CallCtx {
  const p = portal;
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
  const token = (params && !Array.isArray(params) ? params.auth : undefined) ?? (route.v3 ? queryAuth : undefined);
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
