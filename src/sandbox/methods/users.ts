/**
 * Users and departments: `user.current/get/search/fields/add/update` (a filter in FILTER or as bare params,
 * FIND/NAME_SEARCH over name, e-mail and position), `user.access` (the current user's access codes; user 1 is the
 * administrator) and `department.fields/get/add/update/delete`. Per-record access rights are not emulated (every
 * user sees everything). Sources: apidocs.bitrix24.com/api-reference/user/user-get.html,
 * api-reference/user/user-current.html, api-reference/user/user-add.html,
 * api-reference/departments/department-get.html (b24-spec spec/index.json maps each method to its page).
 */
import { argError } from '../apiError.js';
import { legacyRow } from '../fieldViews.js';
import { asList, type Params, pick } from '../params.js';
import type { CallCtx, MethodResult, Registry } from '../registry.js';
import type { Row } from '../store.js';
import { applyFields, legacyList, readId } from './common.js';

/**
 * The user record as user.get shows it: an empty value is `""`, never null (UF_DEPARTMENT stays a list, ACTIVE a
 * boolean); TIMESTAMP_X and LAST_ACTIVITY_DATE are the `{}` the documented example shows (a date object the portal
 * serializes empty) — except in user.current, which formats them as date strings like the other dates (`dates`).
 * Sources: apidocs.bitrix24.com/api-reference/user/user-get.html, api-reference/user/user-current.html (response
 * examples; the batch page's user.current example shows strings too).
 */
function userView(o: Record<string, unknown>, dates: 'object' | 'string' = 'object'): Record<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    if ((k === 'TIMESTAMP_X' || k === 'LAST_ACTIVITY_DATE') && dates === 'object') o[k] = {};
    else if (v === null || v === undefined) o[k] = '';
  }
  return o;
}

/** Registers `user.*`. */
export function userMethods(r: Registry): void {
  const userFields = (ctx: CallCtx) => ctx.portal.def('user').fields;
  const view = (ctx: CallCtx, u: Row, keys = Object.keys(userFields(ctx))) =>
    userView(legacyRow(userFields(ctx), u, keys));
  const userList = (ctx: CallCtx, p: Params): MethodResult => {
    let filter = pick(p, 'FILTER', 'filter');
    if (!filter) {
      filter = {};
      for (const [k, v] of Object.entries(p)) {
        if (!['sort', 'order', 'start', 'admin_mode', 'select', 'image_resize', 'auth'].includes(k.toLowerCase()))
          filter[k] = v;
      }
    }
    const find = pick(filter, 'FIND', 'NAME_SEARCH');
    const rest = { ...filter };
    for (const k of Object.keys(rest)) if (['FIND', 'NAME_SEARCH'].includes(k.toUpperCase())) delete rest[k];
    const sort = pick(p, 'sort', 'SORT');
    const dir = pick(p, 'order', 'ORDER');
    const order = sort ? { [String(sort)]: String(dir ?? 'ASC') } : typeof dir === 'object' ? dir : undefined;
    const needle = find ? String(find).toLowerCase() : null;
    return legacyList(
      ctx.portal.t.user,
      userFields(ctx),
      { filter: rest, order, start: pick(p, 'start'), select: pick(p, 'select') },
      {
        baseFilter: needle
          ? (u) => `${u.NAME} ${u.LAST_NAME} ${u.EMAIL} ${u.WORK_POSITION}`.toLowerCase().includes(needle)
          : undefined,
        selectDefaultAll: false,
        render: (u, keys) => view(ctx, u, keys),
      },
    );
  };
  r.add({
    name: 'user.current',
    scope: 'user',
    handler: (ctx) => {
      const fields = userFields(ctx);
      return { result: userView(legacyRow(fields, ctx.portal.t.user.get(ctx.userId)!, Object.keys(fields)), 'string') };
    },
  });
  r.add({
    // the current user's access codes: AU (authorised), U<id>, G2 (everyone), D<dept> and, for the portal's first
    // user (the administrator who made the webhooks), G1 (administrators). Source: api-reference/user/user-access.html
    name: 'user.access',
    scope: 'basic',
    handler: (ctx, p) => {
      const asked = (asList(pick(p, 'ACCESS', 'access')) ?? []).map(String);
      if (!asked.length) throw argError('ACCESS is required', 'ERROR_CORE');
      const u = ctx.portal.t.user.get(ctx.userId);
      const depts = ((u?.UF_DEPARTMENT as number[] | undefined) ?? []).map((d) => `D${d}`);
      const has = new Set(['AU', 'G2', `U${ctx.userId}`, ...depts, ...(ctx.userId === 1 ? ['G1'] : [])]);
      return { result: asked.some((a) => has.has(a)) };
    },
  });
  r.add({ name: 'user.get', scope: 'user', handler: userList });
  r.add({ name: 'user.search', scope: 'user', handler: userList });
  r.add({
    name: 'user.fields',
    scope: 'user',
    handler: (ctx) => ({ result: Object.fromEntries(Object.entries(userFields(ctx)).map(([k, f]) => [k, f.title])) }),
  });
  r.add({
    name: 'user.add',
    scope: 'user',
    handler: (ctx, p) => {
      if (!p.EMAIL) throw argError('Email is required', 'ERROR_CORE');
      const row: Row = {};
      for (const k of Object.keys(userFields(ctx))) row[k] = null;
      applyFields(ctx.portal, userFields(ctx), row, p, { creating: true });
      Object.assign(row, {
        ACTIVE: true,
        IS_ONLINE: 'N',
        USER_TYPE: 'employee',
        DATE_REGISTER: ctx.portal.clock.now(),
        TIMESTAMP_X: ctx.portal.clock.now(),
        UF_DEPARTMENT: asList(p.UF_DEPARTMENT)?.map(Number) ?? [1],
      });
      ctx.portal.t.user.insert(row);
      ctx.portal.dirty();
      return { result: row.ID, write: true };
    },
  });
  r.add({
    name: 'user.update',
    scope: 'user',
    handler: (ctx, p) => {
      const u = ctx.portal.t.user.get(readId(p, () => argError('User ID is required', 'ERROR_CORE')));
      if (!u) throw argError('User not found', 'ERROR_CORE');
      applyFields(ctx.portal, userFields(ctx), u, p, { creating: false });
      u.TIMESTAMP_X = ctx.portal.clock.now();
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
}

/** Registers `department.*`. */
export function departmentMethods(r: Registry): void {
  const deptFields = (ctx: CallCtx) => ctx.portal.def('department').fields;
  r.many('department', {
    'department.fields': (ctx) => ({
      result: Object.fromEntries(Object.entries(deptFields(ctx)).map(([k, f]) => [k, f.title])),
    }),
    'department.get': (ctx, p) => {
      const filter: Record<string, unknown> = {};
      for (const k of ['ID', 'NAME', 'SORT', 'PARENT', 'UF_HEAD']) if (pick(p, k) !== undefined) filter[k] = pick(p, k);
      const sort = pick(p, 'sort');
      const order = sort ? { [String(sort)]: String(pick(p, 'order') ?? 'ASC') } : { SORT: 'ASC' };
      const res = legacyList(
        ctx.portal.t.department,
        deptFields(ctx),
        { filter, order, start: pick(p, 'START', 'start') },
        { selectDefaultAll: false },
      );
      return res;
    },
    'department.add': (ctx, p) => {
      if (!p.NAME) throw argError('NAME is required', 'ERROR_CORE');
      const row = ctx.portal.t.department.insert({
        NAME: String(p.NAME),
        SORT: Number(p.SORT ?? 500),
        PARENT: Number(p.PARENT ?? 1),
        UF_HEAD: p.UF_HEAD ? Number(p.UF_HEAD) : null,
      });
      ctx.portal.dirty();
      return { result: row.ID, write: true };
    },
    'department.update': (ctx, p) => {
      const d = ctx.portal.t.department.get(readId(p, () => argError('ID is required', 'ERROR_CORE')));
      if (!d) throw argError('Department not found', 'ERROR_CORE');
      applyFields(ctx.portal, deptFields(ctx), d, p, { creating: false });
      ctx.portal.dirty();
      return { result: true, write: true };
    },
    'department.delete': (ctx, p) => {
      const id = readId(p, () => argError('ID is required', 'ERROR_CORE'));
      if (!ctx.portal.t.department.delete(id)) throw argError('Department not found', 'ERROR_CORE');
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
}
