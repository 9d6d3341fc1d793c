/**
 * Users, departments, workgroups, messenger, events, offline queue, system methods and the generic CRUD
 * fallback. Sources: api-reference/user/*, common/system/*, events/*, sonet-group/*, chats/*.
 */

import { ApiError, argError } from '../apiError.js';
import { legacyRow } from '../entities.js';
import { EventHub } from '../events.js';
import { asList, type Params, pick, truthy } from '../params.js';
import { ALL_SCOPES } from '../portal.js';
import { isoDate } from '../portalTime.js';
import {
  type CallCtx,
  listOut,
  type MethodResult,
  type MethodSpec,
  PAGE,
  type Registry,
  readStart,
} from '../registry.js';
import { compileFilter, compileOrder, type Row, runQuery, Table } from '../store.js';
import { applyFields, legacyList, readId } from './common.js';

const accessDenied = (text = 'Access denied!') => new ApiError(403, 'ACCESS_DENIED', text);

function userMethods(r: Registry): void {
  const userFields = (ctx: CallCtx) => ctx.portal.def('user').fields;
  const view = (ctx: CallCtx, u: Row) => legacyRow(userFields(ctx), u, Object.keys(userFields(ctx)));
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
      },
    );
  };
  const scopes = ['user', 'user_brief', 'user_basic'];
  r.add({
    name: 'user.current',
    scope: 'user',
    handler: (ctx) => ({ result: view(ctx, ctx.portal.t.user.get(ctx.userId)!) }),
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
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
  void scopes;
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

function sonetMethods(r: Registry): void {
  const fields = (ctx: CallCtx) => ctx.portal.def('workgroup').fields;
  const groupOf = (ctx: CallCtx, v: unknown) => {
    const g = ctx.portal.t.workgroup.get(v);
    if (!g) throw new ApiError(400, 'ERROR_CORE', 'Socialnetwork group not found');
    return g;
  };
  const members = (ctx: CallCtx, groupId: number) =>
    ctx.portal.t.workgroup_member.rows.filter((m) => m.GROUP_ID === groupId);
  const recount = (ctx: CallCtx, g: Row) => {
    g.NUMBER_OF_MEMBERS = members(ctx, g.ID).length;
  };
  r.many('sonet_group', {
    'sonet_group.get': (ctx, p) =>
      legacyList(
        ctx.portal.t.workgroup,
        fields(ctx),
        { filter: pick(p, 'FILTER', 'filter'), order: pick(p, 'ORDER', 'order'), start: pick(p, 'start') },
        { selectDefaultAll: false },
      ),
    'sonet_group.create': (ctx, p) => {
      if (!pick(p, 'NAME')) throw new ApiError(400, 'ERROR_CORE', 'Group name is empty');
      const now = ctx.portal.clock.now();
      const row: Row = {
        SITE_ID: 's1',
        DESCRIPTION: null,
        ACTIVE: 'Y',
        VISIBLE: 'Y',
        OPENED: 'N',
        CLOSED: 'N',
        SUBJECT_ID: 1,
        KEYWORDS: null,
        PROJECT: 'N',
        IS_EXTRANET: 'N',
        SUBJECT_NAME: 'Рабочие группы',
      };
      applyFields(ctx.portal, fields(ctx), row, p, { creating: true });
      Object.assign(row, {
        OWNER_ID: Number(pick(p, 'OWNER_ID') ?? ctx.userId),
        DATE_CREATE: now,
        DATE_UPDATE: now,
        DATE_ACTIVITY: now,
        NUMBER_OF_MEMBERS: 1,
      });
      ctx.portal.t.workgroup.insert(row);
      ctx.portal.t.workgroup_member.insert({ GROUP_ID: row.ID, USER_ID: row.OWNER_ID, ROLE: 'A' });
      ctx.portal.dirty();
      return { result: row.ID, write: true };
    },
    'sonet_group.update': (ctx, p) => {
      const g = groupOf(ctx, pick(p, 'GROUP_ID'));
      const input = { ...p };
      delete input.GROUP_ID;
      applyFields(ctx.portal, fields(ctx), g, input, { creating: false });
      g.DATE_UPDATE = ctx.portal.clock.now();
      ctx.portal.dirty();
      return { result: g.ID, write: true };
    },
    'sonet_group.delete': (ctx, p) => {
      const g = groupOf(ctx, pick(p, 'GROUP_ID'));
      ctx.portal.t.workgroup.delete(g.ID);
      for (const m of members(ctx, g.ID)) ctx.portal.t.workgroup_member.delete(m.ID);
      ctx.portal.dirty();
      return { result: true, write: true };
    },
    'sonet_group.user.get': (ctx, p) => {
      const g = groupOf(ctx, pick(p, 'ID'));
      return { result: members(ctx, g.ID).map((m) => ({ USER_ID: String(m.USER_ID), ROLE: m.ROLE })) };
    },
    'sonet_group.user.add': (ctx, p) => {
      const g = groupOf(ctx, pick(p, 'GROUP_ID'));
      for (const u of asList(pick(p, 'USER_ID')) ?? []) {
        if (!members(ctx, g.ID).some((m) => m.USER_ID === Number(u)))
          ctx.portal.t.workgroup_member.insert({ GROUP_ID: g.ID, USER_ID: Number(u), ROLE: 'K' });
      }
      recount(ctx, g);
      ctx.portal.dirty();
      return { result: true, write: true };
    },
    'sonet_group.user.delete': (ctx, p) => {
      const g = groupOf(ctx, pick(p, 'GROUP_ID'));
      const ids = (asList(pick(p, 'USER_ID')) ?? []).map(Number);
      for (const m of members(ctx, g.ID))
        if (ids.includes(m.USER_ID) && m.ROLE !== 'A') ctx.portal.t.workgroup_member.delete(m.ID);
      recount(ctx, g);
      ctx.portal.dirty();
      return { result: true, write: true };
    },
    'sonet_group.user.groups': (ctx) => {
      const mine = ctx.portal.t.workgroup_member.rows.filter((m) => m.USER_ID === ctx.userId);
      return {
        result: mine.map((m) => ({
          GROUP_ID: String(m.GROUP_ID),
          GROUP_NAME: ctx.portal.t.workgroup.get(m.GROUP_ID)?.NAME ?? '',
          ROLE: m.ROLE,
        })),
      };
    },
  });
}

function imMethods(r: Registry): void {
  r.many('im', {
    'im.message.add': (ctx, p) => {
      const dialog = pick(p, 'DIALOG_ID');
      const message = pick(p, 'MESSAGE');
      if (!dialog) throw new ApiError(400, 'DIALOG_ID_EMPTY', "Dialog ID can't be empty");
      if (!message && !pick(p, 'ATTACH')) throw new ApiError(400, 'MESSAGE_EMPTY', "Message can't be empty");
      const d = String(dialog);
      const chat = d.startsWith('chat') ? Number(d.slice(4)) : 0;
      if (!chat && !ctx.portal.t.user.get(d)) throw new ApiError(400, 'USER_ID_EMPTY', 'User not found');
      const row = ctx.portal.t.im_message.insert({
        CHAT_ID: chat,
        DIALOG_ID: d,
        AUTHOR_ID: ctx.userId,
        DATE: ctx.portal.clock.now(),
        MESSAGE: String(message ?? ''),
        SYSTEM: truthy(pick(p, 'SYSTEM')) ? 'Y' : 'N',
      });
      ctx.portal.dirty();
      return { result: row.ID, write: true };
    },
    'im.message.update': (ctx, p) => {
      const m = ctx.portal.t.im_message.get(pick(p, 'MESSAGE_ID'));
      if (!m) throw new ApiError(400, 'MESSAGE_ID_ERROR', "Message ID can't be empty");
      if (pick(p, 'MESSAGE') !== undefined) m.MESSAGE = String(pick(p, 'MESSAGE'));
      ctx.portal.dirty();
      return { result: true, write: true };
    },
    'im.message.delete': (ctx, p) => {
      const id = Number(pick(p, 'MESSAGE_ID'));
      if (!ctx.portal.t.im_message.delete(id)) throw new ApiError(400, 'MESSAGE_ID_ERROR', "Message ID can't be empty");
      ctx.portal.dirty();
      return { result: true, write: true };
    },
    'im.dialog.messages.get': (ctx, p) => {
      const d = String(pick(p, 'DIALOG_ID') ?? '');
      if (!d) throw new ApiError(400, 'DIALOG_ID_EMPTY', "Dialog ID can't be empty");
      const limit = Math.min(50, Number(pick(p, 'LIMIT') ?? 20));
      const rows = ctx.portal.t.im_message.rows
        .filter((m) => m.DIALOG_ID === d)
        .slice(-limit)
        .reverse();
      return {
        result: {
          chat_id: d.startsWith('chat') ? Number(d.slice(4)) : 0,
          messages: rows.map((m) => ({
            id: m.ID,
            chat_id: m.CHAT_ID,
            author_id: m.AUTHOR_ID,
            date: isoDate(m.DATE),
            text: m.MESSAGE,
            unread: false,
            uuid: null,
            replaces: [],
            params: [],
            disappearing_date: null,
          })),
          users: [],
          files: [],
        },
      };
    },
  });
  const notify = (type: string) => (ctx: CallCtx, p: Params) => {
    const user = pick(p, 'USER_ID', 'to');
    const message = pick(p, 'MESSAGE', 'message');
    if (!user || !ctx.portal.t.user.get(user)) throw new ApiError(400, 'USER_ID_EMPTY', "Recipient ID can't be empty");
    if (!message) throw new ApiError(400, 'MESSAGE_EMPTY', "Message can't be empty");
    const row = ctx.portal.t.notification.insert({
      USER_ID: Number(user),
      MESSAGE: String(message),
      TAG: pick(p, 'TAG') ?? '',
      SUB_TAG: pick(p, 'SUB_TAG') ?? '',
      TYPE: type,
      DATE: ctx.portal.clock.now(),
    });
    ctx.portal.dirty();
    return { result: row.ID, write: true };
  };
  r.many('im', {
    'im.notify.system.add': notify('system'),
    'im.notify.personal.add': notify('personal'),
    'im.notify': notify('personal'),
  });
  r.add({
    name: 'imbot.message.add',
    scope: 'imbot',
    appOnly: true,
    handler: (ctx, p) => {
      const row = ctx.portal.t.im_message.insert({
        CHAT_ID: 0,
        DIALOG_ID: String(pick(p, 'DIALOG_ID') ?? ''),
        AUTHOR_ID: Number(pick(p, 'BOT_ID') ?? 0),
        DATE: ctx.portal.clock.now(),
        MESSAGE: String(pick(p, 'MESSAGE') ?? ''),
        SYSTEM: 'N',
      });
      return { result: row.ID, write: true };
    },
  });
}

const EVENT_NAMES = [
  'ONAPPINSTALL',
  'ONAPPUNINSTALL',
  'ONAPPUPDATE',
  'ONAPPTEST',
  'ONOFFLINEEVENT',
  'ONCRMDEALADD',
  'ONCRMDEALUPDATE',
  'ONCRMDEALDELETE',
  'ONCRMLEADADD',
  'ONCRMLEADUPDATE',
  'ONCRMLEADDELETE',
  'ONCRMCONTACTADD',
  'ONCRMCONTACTUPDATE',
  'ONCRMCONTACTDELETE',
  'ONCRMCOMPANYADD',
  'ONCRMCOMPANYUPDATE',
  'ONCRMCOMPANYDELETE',
  'ONCRMACTIVITYADD',
  'ONCRMACTIVITYUPDATE',
  'ONCRMACTIVITYDELETE',
  'ONCRMTIMELINECOMMENTADD',
  'ONCRMTIMELINECOMMENTUPDATE',
  'ONCRMTIMELINECOMMENTDELETE',
  'ONIMBOTMESSAGEADD',
  'ONIMCOMMANDADD',
  'ONIMJOINCHAT',
  'ONIMBOTDELETE',
  'ONTASKADD',
  'ONTASKUPDATE',
  'ONTASKDELETE',
  'ONTASKCOMMENTADD',
  'ONTASKCOMMENTUPDATE',
  'ONTASKCOMMENTDELETE',
];

function eventMethods(r: Registry): void {
  const app = { appOnly: true };
  r.many(
    'basic',
    {
      'event.bind': (ctx, p) => {
        const event = String(pick(p, 'event', 'EVENT') ?? '').toUpperCase();
        const type = String(pick(p, 'event_type', 'EVENT_TYPE') ?? 'online').toLowerCase();
        const offline = type === 'offline';
        const handler = String(pick(p, 'handler', 'HANDLER') ?? '');
        if (!EVENT_NAMES.includes(event)) throw new ApiError(400, 'ERROR_EVENT_NOT_FOUND', 'Event not found');
        if (!offline && !/^https?:\/\//.test(handler))
          throw new ApiError(400, 'ERROR_HANDLER_URL_MISMATCH', 'Wrong handler URL');
        const authType = Number(pick(p, 'auth_type', 'AUTH_TYPE') ?? 0) || 0;
        const connector = String(pick(p, 'auth_connector', 'AUTH_CONNECTOR') ?? '');
        const hub = ctx.portal.events;
        if (
          hub.bindings.some(
            (b) =>
              b.event === event &&
              b.offline === offline &&
              (offline ? b.connector === connector : b.handler === handler) &&
              b.authType === authType,
          )
        ) {
          throw new ApiError(400, 'ERROR_HANDLER_ALREADY_EXIST', 'Handler already exists!');
        }
        const options = pick(p, 'options') ?? {};
        hub.bindings.push({
          ID: hub.nextBindingId++,
          event,
          handler: offline ? '' : handler,
          authType,
          offline,
          connector,
          minTimeout: Number((options as any).minTimeout ?? 1),
          lastNotify: 0,
        });
        ctx.portal.dirty();
        return { result: true, write: true };
      },
      'event.unbind': (ctx, p) => {
        const event = String(pick(p, 'event', 'EVENT') ?? '').toUpperCase();
        const handler = String(pick(p, 'handler', 'HANDLER') ?? '');
        const type = String(pick(p, 'event_type', 'EVENT_TYPE') ?? 'online').toLowerCase();
        const authType = Number(pick(p, 'auth_type', 'AUTH_TYPE') ?? 0) || 0;
        const hub = ctx.portal.events;
        const before = hub.bindings.length;
        hub.bindings = hub.bindings.filter(
          (b) =>
            !(
              b.event === event &&
              b.offline === (type === 'offline') &&
              (b.offline || b.handler === handler) &&
              b.authType === authType
            ),
        );
        const count = before - hub.bindings.length;
        if (!EVENT_NAMES.includes(event)) throw new ApiError(400, 'ERROR_EVENT_NOT_FOUND', 'Event not found');
        ctx.portal.dirty();
        return { result: { count }, write: true };
      },
      'event.get': (ctx) => ({
        result: ctx.portal.events.bindings.map((b) => ({
          event: b.event,
          handler: b.handler,
          auth_type: String(b.authType),
          offline: b.offline ? 1 : 0,
          ...(b.connector ? { connector_id: b.connector } : {}),
        })),
      }),
      'event.test': (ctx, p) => {
        ctx.portal.events.fire('ONAPPTEST', { QUERY: p }, 'test:' + Date.now());
        return { result: 1 };
      },
      'event.offline.get': (ctx, p) => {
        const hub = ctx.portal.events;
        const clear = pick(p, 'clear') === undefined ? true : truthy(pick(p, 'clear'));
        const processId = pick(p, 'process_id');
        const error = truthy(pick(p, 'error'));
        const limit = Math.max(1, Math.min(1000, Number(pick(p, 'limit') ?? 50)));
        const connector = String(pick(p, 'auth_connector') ?? '');
        const resolve = offlineResolver;
        const f = compileFilter(pick(p, 'filter'), resolve);
        const order = compileOrder(pick(p, 'order') ?? { TIMESTAMP_X: 'ASC' }, resolve, () =>
          argError('Invalid order'),
        );
        let rows: any[];
        const now = ctx.portal.clock.now();
        for (const r of hub.offline) {
          if (r.PROCESS_ID && (r.RESERVED_AT ?? now) < now - 30 * 86_400_000) {
            r.PROCESS_ID = '';
            r.RESERVED_AT = undefined;
          }
        }
        if (processId) rows = hub.offline.filter((r) => r.PROCESS_ID === processId);
        else
          rows = hub.offline.filter(
            (r) => !r.PROCESS_ID && (error ? true : !r.ERROR) && (!connector || r.CONNECTOR_ID === connector),
          );
        const t = new Table('offline');
        t.load([...rows]);
        rows = runQuery(t, f, order, 0, limit, false).rows;
        let pid: string | null = null;
        if (clear) {
          const ids = new Set(rows.map((r) => r.ID));
          hub.offline = hub.offline.filter((r) => !ids.has(r.ID));
        } else {
          pid = processId ? String(processId) : EventHub.processId();
          for (const r of rows) {
            r.PROCESS_ID = pid;
            r.RESERVED_AT ??= now;
          }
        }
        if (rows.length) ctx.portal.dirty();
        return { result: { process_id: pid, events: rows.map((r) => EventHub.view(r, false)) }, rows: rows.length };
      },
      'event.offline.clear': (ctx, p) => {
        const pid = pick(p, 'process_id');
        if (!pid) throw argError('process_id is required');
        const ids = asList(pick(p, 'id'))?.map(Number);
        const msgs = asList(pick(p, 'message_id'))?.map(String);
        const hub = ctx.portal.events;
        hub.offline = hub.offline.filter((r) => {
          if (r.PROCESS_ID !== pid) return true;
          if (ids) return !ids.includes(r.ID);
          if (msgs) return !msgs.includes(r.MESSAGE_ID);
          return false;
        });
        ctx.portal.dirty();
        return { result: true, write: true };
      },
      'event.offline.error': (ctx, p) => {
        const pid = pick(p, 'process_id');
        if (!pid) throw argError('process_id is required');
        const msgs = asList(pick(p, 'message_id'))?.map(String);
        for (const r of ctx.portal.events.offline) {
          if (r.PROCESS_ID === pid && (!msgs || msgs.includes(r.MESSAGE_ID))) {
            r.ERROR = 1;
            r.PROCESS_ID = '';
          }
        }
        ctx.portal.dirty();
        return { result: true, write: true };
      },
      'event.offline.list': (ctx, p) => {
        const t = new Table('offline');
        t.load([...ctx.portal.events.offline]);
        const f = compileFilter(pick(p, 'filter'), offlineResolver);
        const order = compileOrder(pick(p, 'order') ?? { ID: 'ASC' }, offlineResolver, () => argError('Invalid order'));
        const start = readStart(pick(p, 'start'));
        const q = runQuery(t, f, order, Math.max(0, start), PAGE, start >= 0);
        return listOut(
          q.rows.map((r) => EventHub.view(r as any, true)),
          q.rows.length,
          q.total,
          start,
        );
      },
    },
    app,
  );
  r.add({
    name: 'events',
    scope: 'basic',
    handler: (_ctx, p) => {
      const scope = pick(p, 'SCOPE', 'scope');
      let list = EVENT_NAMES;
      if (scope === 'crm') list = list.filter((e) => e.startsWith('ONCRM'));
      else if (scope === 'task') list = list.filter((e) => e.startsWith('ONTASK'));
      else if (scope) list = list.filter((e) => e.startsWith('ONAPP') || e === 'ONOFFLINEEVENT');
      return { result: list };
    },
  });
}

const offlineResolver = (name: string) => {
  const key = name.toUpperCase();
  const kinds: Record<string, 'num' | 'date' | 'str'> = {
    ID: 'num',
    TIMESTAMP_X: 'date',
    EVENT_NAME: 'str',
    MESSAGE_ID: 'str',
    PROCESS_ID: 'str',
    ERROR: 'num',
  };
  return kinds[key] ? { key, kind: kinds[key]! } : null;
};

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
    handler: (_ctx, p) => ({
      result: Object.fromEntries(
        (asList(pick(p, 'ACCESS')) ?? []).map((a) => [String(a), { NAME: String(a), PROVIDER: 'user' }]),
      ),
    }),
  });
}

/** Verb → generic operation. Actions (start, complete, …) answer `true` and stamp the row when an id is given. */
const GENERIC_VERBS: Record<string, 'add' | 'get' | 'list' | 'update' | 'delete' | 'fields' | 'action'> = {
  add: 'add',
  create: 'add',
  register: 'add',
  addsubfolder: 'add',
  uploadfile: 'add',
  addtask: 'add',
  addcard: 'add',
  get: 'get',
  list: 'list',
  getlist: 'list',
  getchildren: 'list',
  getstages: 'list',
  search: 'list',
  update: 'update',
  set: 'update',
  delete: 'delete',
  remove: 'delete',
  unregister: 'delete',
  deletetask: 'delete',
  fields: 'fields',
  getfields: 'fields',
  start: 'action',
  complete: 'action',
  terminate: 'action',
  kill: 'action',
  finish: 'action',
  answer: 'action',
  open: 'action',
  close: 'action',
  pause: 'action',
  renew: 'action',
  copyto: 'action',
  moveto: 'action',
};
const SCOPE_OF: Record<string, string> = {
  tasks: 'task',
  task: 'task',
  sonet_group: 'sonet_group',
  socialnetwork: 'sonet_group',
  log: 'log',
  im: 'im',
  imopenlines: 'imopenlines',
};

/**
 * Generic CRUD for methods outside the curated set: `<entity>.<verb>` over an untyped table, the verb mapped by
 * {@link GENERIC_VERBS} (add/create/register → id; get; list/getlist → list + total; update → true; delete/
 * unregister → true; actions like start/complete → true). Returns undefined when the verb is unknown
 * (→ ERROR_METHOD_NOT_FOUND).
 */
export function genericMethod(name: string): MethodSpec | undefined {
  const parts = name.toLowerCase().split('.');
  if (parts.length < 2) return undefined;
  const op = GENERIC_VERBS[parts[parts.length - 1]!];
  if (!op) return undefined;
  const verb = op;
  const entity = parts.slice(0, -1).join('.');
  const scope = SCOPE_OF[parts[0]!] ?? parts[0]!;
  const notFound = () => new ApiError(400, 'ERROR_NOT_FOUND', 'Not found');
  const fieldsOf = (p: Params) => {
    const f = pick(p, 'fields', 'FIELDS');
    if (f && typeof f === 'object') return f as Record<string, unknown>;
    const rest = { ...p };
    for (const k of ['id', 'ID', 'auth']) delete rest[k];
    return rest;
  };
  return {
    name,
    scope,
    handler: (ctx, p): MethodResult => {
      const t = ctx.portal.genericTable(entity);
      const id = () => readId(p, () => argError('ID is not defined or invalid.'));
      switch (verb) {
        case 'action': {
          const given = pick(p, 'id', 'ID');
          const row = given !== undefined ? t.get(given) : undefined;
          if (row)
            Object.assign(row, { LAST_ACTION: name, LAST_ACTION_BY: ctx.userId, DATE_MODIFY: ctx.portal.nowIso() });
          ctx.portal.dirty();
          return { result: true, write: true };
        }
        case 'add': {
          const row = t.insert({
            ...fieldsOf(p),
            ID: undefined,
            CREATED_BY: ctx.userId,
            DATE_CREATE: ctx.portal.nowIso(),
          });
          ctx.portal.dirty();
          return { result: row.ID, write: true };
        }
        case 'update': {
          const row = t.get(id());
          if (!row) throw notFound();
          Object.assign(row, fieldsOf(p), { ID: row.ID });
          ctx.portal.dirty();
          return { result: true, write: true };
        }
        case 'delete': {
          if (!t.delete(id())) throw notFound();
          ctx.portal.dirty();
          return { result: true, write: true };
        }
        case 'fields':
          return { result: [] };
        default: {
          if (verb === 'get' && pick(p, 'id', 'ID') !== undefined) {
            const row = t.get(id());
            if (!row) throw notFound();
            return { result: row };
          }
          // a `get` without id lists, as `list` / `getlist` do
          const resolve = (n: string) => ({
            key: n.toUpperCase() === 'ID' ? 'ID' : n,
            kind: n.toUpperCase() === 'ID' ? ('num' as const) : ('str' as const),
          });
          const f = compileFilter(pick(p, 'filter', 'FILTER'), resolve);
          const order = compileOrder(pick(p, 'order', 'ORDER'), resolve, () => argError('Invalid order'));
          const start = readStart(pick(p, 'start'));
          const q = runQuery(t, f, order, Math.max(0, start), PAGE, start >= 0);
          return listOut(q.rows, q.rows.length, q.total, start);
        }
      }
    },
  };
}

/** Registers users, departments, workgroups, messenger, events and system methods. */
export function registerSystem(r: Registry): void {
  userMethods(r);
  sonetMethods(r);
  imMethods(r);
  eventMethods(r);
  systemMethods(r);
}
