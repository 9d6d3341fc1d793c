/**
 * Workgroups and projects: `sonet_group.get/create/update/delete` and their members `sonet_group.user.*` (the
 * owner is a member; NUMBER_OF_MEMBERS follows). Sources: apidocs.bitrix24.com/api-reference/sonet-group/
 * sonet-group-get.html, …/sonet-group-create.html, api-reference/sonet-group/members/sonet-group-user-add.html
 * (b24-spec spec/index.json maps each method to its page).
 */
import { ApiError } from '../apiError.js';
import { asList, pick } from '../params.js';
import type { CallCtx, Registry } from '../registry.js';
import type { Row } from '../store.js';
import { applyFields, legacyList } from './common.js';

/** Registers `sonet_group.*`. */
export function sonetMethods(r: Registry): void {
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
      // the answer lists the users added, as strings (sonet-group-user-add.md)
      const g = groupOf(ctx, pick(p, 'GROUP_ID'));
      const added: string[] = [];
      for (const u of asList(pick(p, 'USER_ID')) ?? []) {
        if (!ctx.portal.t.user.get(Number(u)) || members(ctx, g.ID).some((m) => m.USER_ID === Number(u))) continue;
        ctx.portal.t.workgroup_member.insert({ GROUP_ID: g.ID, USER_ID: Number(u), ROLE: 'K' });
        added.push(String(u));
      }
      recount(ctx, g);
      ctx.portal.dirty();
      return { result: added, write: true };
    },
    'sonet_group.user.delete': (ctx, p) => {
      const g = groupOf(ctx, pick(p, 'GROUP_ID'));
      // the answer lists the users removed (the owner is never removed: sonet-group-user-delete.md)
      const ids = (asList(pick(p, 'USER_ID')) ?? []).map(Number);
      const removed: string[] = [];
      for (const m of members(ctx, g.ID)) {
        if (!ids.includes(m.USER_ID) || m.ROLE === 'A') continue;
        ctx.portal.t.workgroup_member.delete(m.ID);
        removed.push(String(m.USER_ID));
      }
      recount(ctx, g);
      ctx.portal.dirty();
      return { result: removed, write: true };
    },
    'sonet_group.user.groups': (ctx) => {
      const mine = ctx.portal.t.workgroup_member.rows.filter((m) => m.USER_ID === ctx.userId);
      return {
        result: mine.map((m) => ({
          GROUP_ID: String(m.GROUP_ID),
          GROUP_NAME: ctx.portal.t.workgroup.get(m.GROUP_ID)?.NAME ?? '',
          ROLE: m.ROLE,
          // group avatars are not emulated: no image id, an empty image path (sonet-group-user-groups.md)
          GROUP_IMAGE_ID: null,
          GROUP_IMAGE: '',
        })),
      };
    },
  });
}
