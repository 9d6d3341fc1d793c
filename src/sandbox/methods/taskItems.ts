import { legacyRow } from '../fieldViews.js';
import { pick } from '../params.js';
import { isoDate, parseDate } from '../portalTime.js';
import type { CallCtx, Registry } from '../registry.js';
import type { Row } from '../store.js';
import { applyFields, readObject } from './common.js';
import { coreErr } from './taskRows.js';

/** Registers `task.commentitem.*` and `task.checklistitem.*`. */
export function taskItemMethods(r: Registry): void {
  const taskOf = (ctx: CallCtx, v: unknown): Row => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      throw coreErr(
        'TASKS_ERROR_EXCEPTION_#256; Param #0 (taskId) expected to be of type "integer"; 256/TE/WRONG_ARGUMENTS<br>',
      );
    }
    const row = ctx.portal.t.task.get(n);
    if (!row) throw coreErr('TASKS_ERROR_EXCEPTION_#8; Action failed; 8/TE/ACTION_FAILED_TO_BE_PROCESSED<br>');
    return row;
  };
  const itemOf = (ctx: CallCtx, table: 'task_comment' | 'checklist_item', task: Row, v: unknown): Row => {
    const row = ctx.portal.t[table].get(v);
    if (!row || row.TASK_ID !== task.ID)
      throw coreErr('TASKS_ERROR_EXCEPTION_#8; Action failed; 8/TE/ACTION_FAILED_TO_BE_PROCESSED<br>');
    return row;
  };
  const commentView = (ctx: CallCtx, c: Row) => {
    const u = ctx.portal.t.user.get(c.AUTHOR_ID);
    return {
      POST_MESSAGE_HTML: null,
      ID: String(c.ID),
      AUTHOR_ID: String(c.AUTHOR_ID),
      AUTHOR_NAME: u ? `${u.NAME} ${u.LAST_NAME}` : '',
      AUTHOR_EMAIL: u?.EMAIL ?? '',
      POST_DATE: isoDate(c.POST_DATE),
      POST_MESSAGE: c.POST_MESSAGE,
      // files are not emulated: no attachments, the PHP empty map
      ATTACHED_OBJECTS: [],
    };
  };
  r.add({
    name: 'task.commentitem.add',
    scope: 'task',
    positional: ['TASKID', 'FIELDS'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const f = readObject(p.FIELDS, () =>
        coreErr(
          'TASKS_ERROR_EXCEPTION_#256; Param #1 (arFields) expected to be of type "array"; 256/TE/WRONG_ARGUMENTS<br>',
        ),
      );
      const msg = pick(f, 'POST_MESSAGE');
      if (!msg) throw coreErr('TASKS_ERROR_EXCEPTION_#256; POST_MESSAGE is required; 256/TE/WRONG_ARGUMENTS<br>');
      const c = ctx.portal.t.task_comment.insert({
        TASK_ID: task.ID,
        AUTHOR_ID: Number(pick(f, 'AUTHOR_ID') ?? ctx.userId),
        POST_DATE: pick(f, 'POST_DATE') ? parseDate(pick(f, 'POST_DATE')) : ctx.portal.clock.now(),
        POST_MESSAGE: String(msg),
      });
      ctx.portal.events.fire(
        'ONTASKCOMMENTADD',
        { FIELDS_AFTER: { ID: c.ID, TASK_ID: task.ID } },
        `task_comment:${c.ID}`,
        ctx.connector,
      );
      ctx.portal.dirty();
      return { result: c.ID, write: true };
    },
  });
  r.add({
    name: 'task.commentitem.getlist',
    scope: 'task',
    positional: ['TASKID', 'ORDER', 'FILTER'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const rows = ctx.portal.t.task_comment.rows.filter((c) => c.TASK_ID === task.ID);
      return { result: rows.map((c) => commentView(ctx, c)), rows: rows.length };
    },
  });
  r.add({
    name: 'task.commentitem.get',
    scope: 'task',
    positional: ['TASKID', 'ITEMID'],
    handler: (ctx, p) => ({ result: commentView(ctx, itemOf(ctx, 'task_comment', taskOf(ctx, p.TASKID), p.ITEMID)) }),
  });
  r.add({
    name: 'task.commentitem.update',
    scope: 'task',
    positional: ['TASKID', 'ITEMID', 'FIELDS'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const c = itemOf(ctx, 'task_comment', task, p.ITEMID);
      const f = readObject(p.FIELDS, () =>
        coreErr('TASKS_ERROR_EXCEPTION_#256; Param #2 (arFields) expected to be of type "array"'),
      );
      if (pick(f, 'POST_MESSAGE') !== undefined) c.POST_MESSAGE = String(pick(f, 'POST_MESSAGE'));
      ctx.portal.events.fire(
        'ONTASKCOMMENTUPDATE',
        { FIELDS_AFTER: { ID: c.ID, TASK_ID: task.ID } },
        `task_comment:${c.ID}`,
        ctx.connector,
      );
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
  r.add({
    name: 'task.commentitem.delete',
    scope: 'task',
    positional: ['TASKID', 'ITEMID'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const c = itemOf(ctx, 'task_comment', task, p.ITEMID);
      ctx.portal.t.task_comment.delete(c.ID);
      ctx.portal.events.fire(
        'ONTASKCOMMENTDELETE',
        { FIELDS_BEFORE: { ID: c.ID, TASK_ID: task.ID } },
        `task_comment:${c.ID}`,
        ctx.connector,
      );
      return { result: true, write: true };
    },
  });
  const chkFields = (ctx: CallCtx) => ctx.portal.def('checklist_item').fields;
  // an item never toggled answers TOGGLED_DATE "" (task-checklist-item-get.md), not null
  const chkView = (ctx: CallCtx, c: Row) => {
    const o = legacyRow(chkFields(ctx), c, Object.keys(chkFields(ctx)));
    if (o.TOGGLED_DATE === null) o.TOGGLED_DATE = '';
    return o;
  };
  r.add({
    name: 'task.checklistitem.add',
    scope: 'task',
    positional: ['TASKID', 'FIELDS'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const f = readObject(p.FIELDS, () =>
        coreErr('TASKS_ERROR_EXCEPTION_#256; Param #1 (arFields) expected to be of type "array"'),
      );
      const title = pick(f, 'TITLE');
      if (!title) throw coreErr('TASKS_ERROR_EXCEPTION_#256; TITLE is required; 256/TE/WRONG_ARGUMENTS<br>');
      const siblings = ctx.portal.t.checklist_item.rows.filter((c) => c.TASK_ID === task.ID);
      const row: Row = {
        TASK_ID: task.ID,
        PARENT_ID: Number(pick(f, 'PARENT_ID') ?? 0),
        CREATED_BY: ctx.userId,
        TITLE: String(title),
        SORT_INDEX: Number(pick(f, 'SORT_INDEX') ?? siblings.length),
        IS_COMPLETE: String(pick(f, 'IS_COMPLETE') ?? 'N') === 'Y' ? 'Y' : 'N',
        IS_IMPORTANT: String(pick(f, 'IS_IMPORTANT') ?? 'N') === 'Y' ? 'Y' : 'N',
        TOGGLED_BY: null,
        TOGGLED_DATE: null,
        MEMBERS: [],
        ATTACHMENTS: [],
      };
      ctx.portal.t.checklist_item.insert(row);
      ctx.portal.dirty();
      return { result: row.ID, write: true };
    },
  });
  r.add({
    name: 'task.checklistitem.getlist',
    scope: 'task',
    positional: ['TASKID', 'ORDER'],
    handler: (ctx, p) => {
      const task = taskOf(ctx, p.TASKID);
      const rows = ctx.portal.t.checklist_item.rows
        .filter((c) => c.TASK_ID === task.ID)
        .sort((a, b) => a.SORT_INDEX - b.SORT_INDEX);
      return { result: rows.map((c) => chkView(ctx, c)), rows: rows.length };
    },
  });
  r.add({
    name: 'task.checklistitem.get',
    scope: 'task',
    positional: ['TASKID', 'ITEMID'],
    handler: (ctx, p) => ({ result: chkView(ctx, itemOf(ctx, 'checklist_item', taskOf(ctx, p.TASKID), p.ITEMID)) }),
  });
  r.add({
    name: 'task.checklistitem.update',
    scope: 'task',
    positional: ['TASKID', 'ITEMID', 'FIELDS'],
    handler: (ctx, p) => {
      const c = itemOf(ctx, 'checklist_item', taskOf(ctx, p.TASKID), p.ITEMID);
      const f = readObject(p.FIELDS, () =>
        coreErr('TASKS_ERROR_EXCEPTION_#256; Param #2 (arFields) expected to be of type "array"'),
      );
      applyFields(ctx.portal, chkFields(ctx), c, f, { creating: false });
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
  r.add({
    name: 'task.checklistitem.delete',
    scope: 'task',
    positional: ['TASKID', 'ITEMID'],
    handler: (ctx, p) => {
      const c = itemOf(ctx, 'checklist_item', taskOf(ctx, p.TASKID), p.ITEMID);
      ctx.portal.t.checklist_item.delete(c.ID);
      ctx.portal.dirty();
      return { result: true, write: true };
    },
  });
  for (const [name, value] of [
    ['task.checklistitem.complete', 'Y'],
    ['task.checklistitem.renew', 'N'],
  ] as const) {
    r.add({
      name,
      scope: 'task',
      positional: ['TASKID', 'ITEMID'],
      handler: (ctx, p) => {
        const c = itemOf(ctx, 'checklist_item', taskOf(ctx, p.TASKID), p.ITEMID);
        c.IS_COMPLETE = value;
        c.TOGGLED_BY = ctx.userId;
        c.TOGGLED_DATE = ctx.portal.clock.now();
        ctx.portal.dirty();
        return { result: true, write: true };
      },
    });
  }
  r.add({
    name: 'task.checklistitem.isactionallowed',
    scope: 'task',
    positional: ['TASKID', 'ITEMID', 'ACTIONID'],
    handler: (ctx, p) => {
      itemOf(ctx, 'checklist_item', taskOf(ctx, p.TASKID), p.ITEMID);
      return { result: true };
    },
  });
}
