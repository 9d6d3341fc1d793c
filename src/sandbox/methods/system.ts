/**
 * System methods of scope `basic` and the registration of the non-CRM, non-task methods: `server.time`, `profile`,
 * `scope`, `methods`, `method.get`, `feature.get`, `app.option.get/set`, `app.info` (application context only),
 * `access.name`. Users, workgroups, messenger and events live in users.ts, workgroups.ts, messenger.ts and
 * eventMethods.ts. Sources: apidocs.bitrix24.com/api-reference/common/system/scope.html, …/method-get.html,
 * …/app-info.html, …/feature-get.html, …/access-name.html, api-reference/common/users/profile.html,
 * api-reference/common/settings/app-option-set.html (b24-spec spec/index.json maps each method to its page).
 */
import { ApiError, argError } from '../apiError.js';
import { asList, pick, truthy } from '../params.js';
import { ALL_SCOPES, type Portal } from '../portal.js';
import type { Registry } from '../registry.js';
import { eventMethods } from './eventMethods.js';
import { imMethods } from './messenger.js';
import { departmentMethods, userMethods } from './users.js';
import { sonetMethods } from './workgroups.js';

const accessDenied = (text = 'Access denied!') => new ApiError(403, 'ACCESS_DENIED', text);

/** Registers the `basic` system methods; `methods` and `method.get` read the registry they are registered in. */
function systemMethods(r: Registry): void {
  r.many('basic', {
    'server.time': (ctx) => ({ result: ctx.portal.nowIso() }),
    profile: (ctx) => {
      const u = ctx.portal.t.user.get(ctx.userId)!;
      return {
        result: {
          ID: String(u.ID),
          ADMIN: ctx.userId === 1,
          NAME: u.NAME,
          LAST_NAME: u.LAST_NAME,
          PERSONAL_GENDER: u.PERSONAL_GENDER ?? '',
          PERSONAL_PHOTO: '',
          TIME_ZONE: '',
          TIME_ZONE_OFFSET: 10800,
        },
      };
    },
    scope: (ctx, p) => {
      if (truthy(pick(p, 'full'))) return { result: ALL_SCOPES };
      return { result: ctx.scopes ? [...ctx.scopes] : ALL_SCOPES };
    },
    methods: (ctx, p) => {
      const scope = pick(p, 'scope');
      const full = truthy(pick(p, 'full'));
      const list = [...r.v1.values()].filter((m) =>
        scope ? m.scope === scope : full || !ctx.scopes || ctx.scopes.has(m.scope),
      );
      return { result: list.map((m) => m.name.toLowerCase()) };
    },
    'method.get': (ctx, p) => {
      const name = String(pick(p, 'name') ?? '').toLowerCase();
      if (!name) return { result: { isExisting: false, isAvailable: false } };
      const m = r.get(name);
      if (!m) return { result: { isExisting: false, isAvailable: false } };
      return {
        result: {
          isExisting: true,
          isAvailable: (!ctx.scopes || ctx.scopes.has(m.scope)) && !(m.appOnly && ctx.authKind === 'webhook'),
        },
      };
    },
    'feature.get': (_ctx, p) => {
      const code = pick(p, 'CODE', 'code');
      if (!code) throw argError('CODE is required');
      return { result: { value: ['rest_offline_extended', 'rest_auth_connector'].includes(String(code)) ? 'Y' : 'N' } };
    },
    'app.option.get': (ctx, p) => {
      const opts = (ctx.portal.genericTable('app.option').get(1)?.VALUES ?? {}) as Record<string, unknown>;
      const name = pick(p, 'option');
      return { result: name ? (opts[name] ?? null) : Object.keys(opts).length ? opts : [] };
    },
    'app.option.set': (ctx, p) => {
      const t = ctx.portal.genericTable('app.option');
      const row = t.get(1) ?? t.insert({ ID: 1, VALUES: {} });
      Object.assign(row.VALUES, pick(p, 'options') ?? {});
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
  r.add({
    name: 'app.info',
    scope: 'basic',
    handler: (ctx) => {
      if (ctx.authKind === 'webhook') throw accessDenied('Access denied! Application context required');
      return {
        result: {
          ID: 1,
          CODE: ctx.portal.oauth.app.clientId,
          VERSION: 1,
          STATUS: 'L',
          INSTALLED: ctx.portal.oauth.app.installed,
          PAYMENT_EXPIRED: 'N',
          DAYS: null,
          LANGUAGE_ID: 'ru',
          LICENSE: 'ru_ent',
          LICENSE_TYPE: 'ent',
          LICENSE_FAMILY: 'ent',
        },
      };
    },
  });
  r.add({
    name: 'access.name',
    scope: 'basic',
    handler: (ctx, p) => ({
      result: Object.fromEntries(
        (asList(pick(p, 'ACCESS')) ?? []).map((a) => [String(a), accessName(ctx.portal, String(a))]),
      ),
    }),
  });
}

/**
 * One `access.name` entry `{provider, name, provider_id}` (common/system/access-name.md): `U<id>` a user, `D<id>` /
 * `DR<id>` a department, `G2` every user, `AU` every authorised user; other codes name themselves.
 */
function accessName(p: Portal, code: string): { provider: string; name: string; provider_id: string } {
  const m = /^(U|DR|D|G|SG)(\d+)/.exec(code);
  if (m?.[1] === 'U') {
    const u = p.t.user.get(Number(m[2]));
    return { provider: 'Users', name: u ? `${u.NAME} ${u.LAST_NAME}`.trim() : code, provider_id: 'user' };
  }
  if (m?.[1] === 'D' || m?.[1] === 'DR') {
    const d = p.t.department.get(Number(m[2]));
    return { provider: 'Departments', name: String(d?.NAME ?? code), provider_id: 'intranet' };
  }
  if (code === 'G2') return { provider: '', name: 'All users', provider_id: 'group' };
  if (code === 'AU') return { provider: '', name: 'All authorized users', provider_id: 'other' };
  return { provider: '', name: code, provider_id: 'other' };
}

/** Registers users, departments, workgroups, messenger, events and system methods (in this order). */
export function registerSystem(r: Registry): void {
  userMethods(r);
  departmentMethods(r);
  sonetMethods(r);
  imMethods(r);
  eventMethods(r);
  systemMethods(r);
}
