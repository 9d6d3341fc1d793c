/**
 * The deal/lead/contact/company timeline: activities `crm.activity.*` (and `crm.activity.todo.add`) and timeline
 * comments `crm.timeline.comment.*`, with their ONCRMACTIVITY* / ONCRMTIMELINECOMMENT* events. Sources:
 * apidocs.bitrix24.com/api-reference/crm/timeline/activities/activity-base/crm-activity-add.html,
 * api-reference/crm/timeline/activities/todo/crm-activity-todo-add.html,
 * api-reference/crm/timeline/comments/crm-timeline-comment-add.html (b24-spec spec/index.json maps each method to its page).
 */
import { legacyError, missingParam } from '../apiError.js';
import { legacyRow } from '../fieldViews.js';
import { pick } from '../params.js';
import type { CallCtx, Registry } from '../registry.js';
import type { Row } from '../store.js';
import { applyFields, fieldsMeta, fireCrm, legacyList, readId, readObject } from './common.js';
import { badFields, badId, notFound } from './crmWrites.js';

/** Registers `crm.activity.*` (with `crm.activity.todo.add`). */
export function activityMethods(r: Registry): void {
  const act = (ctx: CallCtx) => ctx.portal.fields(ctx.portal.def('activity'));
  r.many('crm', {
    'crm.activity.fields': (ctx) => ({ result: fieldsMeta(act(ctx)) }),
    'crm.activity.list': (ctx, p) => legacyList(ctx.portal.t.activity, act(ctx), p),
    'crm.activity.get': (ctx, p) => {
      const row = ctx.portal.t.activity.get(readId(p, badId));
      if (!row) throw notFound();
      return { result: legacyRow(act(ctx), row, Object.keys(act(ctx))), rows: 1 };
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
    'crm.timeline.comment.list': (ctx, p) => legacyList(ctx.portal.t.timeline_comment, tc(ctx), p),
    'crm.timeline.comment.get': (ctx, p) => {
      const row = ctx.portal.t.timeline_comment.get(readId(p, badId));
      if (!row) throw notFound();
      return { result: legacyRow(tc(ctx), row, Object.keys(tc(ctx))) };
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
