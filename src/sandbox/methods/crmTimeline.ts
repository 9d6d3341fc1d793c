/**
 * The deal/lead/contact/company timeline: activities `crm.activity.*` (and `crm.activity.todo.add`) and timeline
 * comments `crm.timeline.comment.*`, with their ONCRMACTIVITY* / ONCRMTIMELINECOMMENT* events. Sources:
 * apidocs.bitrix24.com/api-reference/crm/timeline/activities/activity-base/crm-activity-add.html,
 * api-reference/crm/timeline/activities/todo/crm-activity-todo-add.html,
 * api-reference/crm/timeline/comments/crm-timeline-comment-add.html (b24-spec spec/index.json maps each method to its page).
 */
import { legacyError, missingParam } from '../apiError.js';
import type { FieldDef } from '../entityFields.js';
import { legacyRow } from '../fieldViews.js';
import { pick } from '../params.js';
import type { CallCtx, Registry } from '../registry.js';
import type { Row } from '../store.js';
import { applyFields, fieldsMeta, fireCrm, legacyList, readId, readObject } from './common.js';
import { badFields, badId, notFound } from './crmWrites.js';

/**
 * Documented activity fields beyond the stored columns (crm-activity-fields.md, crm-activity-list.md): result,
 * notification, origin and provider members, bindings and files; with the values a plain activity has.
 */
const ACTIVITY_EXTRA: Record<string, FieldDef> = {
  PROVIDER_GROUP_ID: { type: 'string', title: 'Provider group' },
  NOTIFY_TYPE: { type: 'integer', title: 'Notification type' },
  NOTIFY_VALUE: { type: 'integer', title: 'Notification value' },
  ORIGIN_ID: { type: 'string', title: 'Origin ID' },
  ORIGINATOR_ID: { type: 'string', title: 'Originator ID' },
  RESULT_STATUS: { type: 'integer', title: 'Result status' },
  RESULT_STREAM: { type: 'integer', title: 'Result stream' },
  RESULT_SOURCE_ID: { type: 'string', title: 'Result source' },
  PROVIDER_PARAMS: { type: 'object', title: 'Provider parameters' },
  PROVIDER_DATA: { type: 'string', title: 'Provider data' },
  RESULT_MARK: { type: 'integer', title: 'Result mark' },
  RESULT_VALUE: { type: 'double', title: 'Result value' },
  RESULT_SUM: { type: 'double', title: 'Result sum' },
  RESULT_CURRENCY_ID: { type: 'string', title: 'Result currency' },
  AUTOCOMPLETE_RULE: { type: 'integer', title: 'Autocomplete rule' },
  BINDINGS: { type: 'object', title: 'Bindings', multi: true, ro: true },
  FILES: { type: 'file', title: 'Files', multi: true },
  WEBDAV_ELEMENTS: { type: 'object', title: 'Disk files', multi: true },
  IS_INCOMING_CHANNEL: { type: 'char', title: 'Incoming channel', ro: true },
};
/** Values of unset documented members (the portal's `""` / `0` / `[]`, not null). */
const ACTIVITY_DEFAULTS: Record<string, unknown> = {
  NOTIFY_TYPE: 1,
  NOTIFY_VALUE: 0,
  RESULT_STATUS: 0,
  RESULT_STREAM: 0,
  RESULT_MARK: 0,
  AUTOCOMPLETE_RULE: 0,
  PROVIDER_PARAMS: [],
  LOCATION: '',
  IS_INCOMING_CHANNEL: 'N',
};

/** An activity row with the documented defaults of its unset members and its owner binding. */
function activityRow(row: Row): Row {
  const o: Row = { ...row };
  for (const [k, v] of Object.entries(ACTIVITY_DEFAULTS)) o[k] ??= v;
  o.BINDINGS ??= [{ OWNER_ID: String(row.OWNER_ID), OWNER_TYPE_ID: String(row.OWNER_TYPE_ID) }];
  return o;
}

/** Registers `crm.activity.*` (with `crm.activity.todo.add`). */
export function activityMethods(r: Registry): void {
  const act = (ctx: CallCtx) => ({ ...ctx.portal.fields(ctx.portal.def('activity')), ...ACTIVITY_EXTRA });
  r.many('crm', {
    'crm.activity.fields': (ctx) => {
      // WEBDAV_ELEMENTS is kept for old integrations and marked deprecated (crm-activity-fields.md)
      const meta = fieldsMeta(act(ctx)) as Record<string, Record<string, unknown>>;
      meta.WEBDAV_ELEMENTS!.isDeprecated = true;
      return { result: meta };
    },
    'crm.activity.list': (ctx, p) => {
      const fields = act(ctx);
      return legacyList(ctx.portal.t.activity, fields, p, {
        render: (row, keys) => legacyRow(fields, activityRow(row), keys),
      });
    },
    'crm.activity.get': (ctx, p) => {
      const row = ctx.portal.t.activity.get(readId(p, badId));
      if (!row) throw notFound();
      return { result: legacyRow(act(ctx), activityRow(row), Object.keys(act(ctx))), rows: 1 };
    },
    'crm.activity.add': (ctx, p) => {
      const f = readObject(pick(p, 'fields'), badFields);
      for (const k of ['OWNER_ID', 'OWNER_TYPE_ID', 'TYPE_ID']) {
        if (f[k] === undefined || f[k] === '') throw legacyError(`The field ${k} is not defined or invalid.`);
      }
      const portal = ctx.portal;
      const now = portal.clock.now();
      const row: Row = {};
      for (const [k, fd] of Object.entries(act(ctx))) row[k] = fd.multi ? [] : null;
      applyFields(portal, act(ctx), row, f, { creating: true });
      row.CREATED = now;
      row.LAST_UPDATED = now;
      row.AUTHOR_ID = ctx.userId;
      row.EDITOR_ID = ctx.userId;
      row.RESPONSIBLE_ID ??= ctx.userId;
      row.COMPLETED ??= 'N';
      row.PROVIDER_ID ??= 'CRM_TODO';
      row.SETTINGS ??= [];
      portal.t.activity.insert(row);
      fireCrm(portal, 'activity', 'ADD', row.ID, ctx.connector);
      return { result: row.ID, write: true };
    },
    'crm.activity.update': (ctx, p) => {
      const row = ctx.portal.t.activity.get(readId(p, badId));
      if (!row) throw notFound();
      applyFields(ctx.portal, act(ctx), row, readObject(pick(p, 'fields'), badFields), { creating: false });
      row.LAST_UPDATED = ctx.portal.clock.now();
      fireCrm(ctx.portal, 'activity', 'UPDATE', row.ID, ctx.connector);
      return { result: true, write: true };
    },
    'crm.activity.delete': (ctx, p) => {
      const id = readId(p, badId);
      if (!ctx.portal.t.activity.get(id)) throw notFound();
      ctx.portal.t.activity.delete(id);
      fireCrm(ctx.portal, 'activity', 'DELETE', id, ctx.connector);
      return { result: true, write: true };
    },
    'crm.activity.todo.add': (ctx, p) => {
      for (const k of ['ownerTypeId', 'ownerId', 'deadline']) if (pick(p, k) === undefined) throw missingParam(k);
      const portal = ctx.portal;
      const now = portal.clock.now();
      const row: Row = {};
      for (const [k, fd] of Object.entries(act(ctx))) row[k] = fd.multi ? [] : null;
      applyFields(
        portal,
        act(ctx),
        row,
        {
          OWNER_TYPE_ID: pick(p, 'ownerTypeId'),
          OWNER_ID: pick(p, 'ownerId'),
          DEADLINE: pick(p, 'deadline'),
          SUBJECT: pick(p, 'title') ?? '',
          DESCRIPTION: pick(p, 'description') ?? '',
          RESPONSIBLE_ID: pick(p, 'responsibleId') ?? ctx.userId,
          TYPE_ID: 6,
        },
        { creating: true },
      );
      Object.assign(row, {
        CREATED: now,
        LAST_UPDATED: now,
        AUTHOR_ID: ctx.userId,
        EDITOR_ID: ctx.userId,
        COMPLETED: 'N',
        PROVIDER_ID: 'CRM_TODO',
        PROVIDER_TYPE_ID: 'TODO',
        SETTINGS: [],
      });
      portal.t.activity.insert(row);
      fireCrm(portal, 'activity', 'ADD', row.ID, ctx.connector);
      return { result: { id: row.ID }, write: true };
    },
  });
}

/** Registers `crm.timeline.comment.*`. */
export function timelineCommentMethods(r: Registry): void {
  const tc = (ctx: CallCtx) => ctx.portal.def('timeline_comment').fields;
  r.many('crm', {
    'crm.timeline.comment.fields': (ctx) => ({ result: fieldsMeta(tc(ctx)) }),
    // a comment without files answers FILES as PHP's empty map `[]` (files are not emulated), not null
    'crm.timeline.comment.list': (ctx, p) =>
      legacyList(ctx.portal.t.timeline_comment, tc(ctx), p, {
        render: (row, keys) => legacyRow(tc(ctx), { ...row, FILES: row.FILES ?? [] }, keys),
      }),
    'crm.timeline.comment.get': (ctx, p) => {
      const row = ctx.portal.t.timeline_comment.get(readId(p, badId));
      if (!row) throw notFound();
      return { result: legacyRow(tc(ctx), { ...row, FILES: row.FILES ?? [] }, Object.keys(tc(ctx))) };
    },
    'crm.timeline.comment.add': (ctx, p) => {
      const f = readObject(pick(p, 'fields'), badFields);
      for (const k of ['ENTITY_ID', 'ENTITY_TYPE', 'COMMENT']) {
        if (f[k] === undefined || f[k] === '') throw legacyError(`The field ${k} is not defined or invalid.`);
      }
      const type = String(f.ENTITY_TYPE).toLowerCase();
      const table = (ctx.portal.t as any)[type];
      if (!['deal', 'lead', 'contact', 'company'].includes(type) || !table.get(f.ENTITY_ID)) {
        throw legacyError('Entity not found.');
      }
      const row = ctx.portal.t.timeline_comment.insert({
        ENTITY_ID: Number(f.ENTITY_ID),
        ENTITY_TYPE: type,
        CREATED: ctx.portal.clock.now(),
        COMMENT: String(f.COMMENT),
        AUTHOR_ID: f.AUTHOR_ID ? Number(f.AUTHOR_ID) : ctx.userId,
        FILES: null,
      });
      fireCrm(ctx.portal, 'timeline_comment', 'ADD', row.ID, ctx.connector);
      return { result: row.ID, write: true };
    },
    'crm.timeline.comment.update': (ctx, p) => {
      const row = ctx.portal.t.timeline_comment.get(readId(p, badId));
      if (!row) throw notFound();
      const f = readObject(pick(p, 'fields'), badFields);
      if (f.COMMENT !== undefined) row.COMMENT = String(f.COMMENT);
      fireCrm(ctx.portal, 'timeline_comment', 'UPDATE', row.ID, ctx.connector);
      return { result: row.ID, write: true };
    },
    'crm.timeline.comment.delete': (ctx, p) => {
      const id = readId(p, badId);
      if (!ctx.portal.t.timeline_comment.get(id)) throw notFound();
      ctx.portal.t.timeline_comment.delete(id);
      fireCrm(ctx.portal, 'timeline_comment', 'DELETE', id, ctx.connector);
      return { result: true, write: true };
    },
  });
}
