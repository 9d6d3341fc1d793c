/**
 * The people side of the portal for chat: who a Bitrix24 user is (`user.get`), a notification to them
 * (`im.notify.system.add`), and who may operate b24flow from chat. Used by the runtime engine (./runtime.ts) and by
 * `b24flow bot link-code`, over a connected client. Sources: apidocs.bitrix24.com/api-reference/user/user-get.html,
 * api-reference/chats/notifications/im-notify-system-add.html.
 */
import type { RunOptions } from '../pipeline/index.js';
import type { BitrixUserView, LinkPortal } from './links.js';

type Client = RunOptions['client'];

/**
 * A portal user by id (`user.get` with `ID`; `ACTIVE` is a boolean in the REST answer, `'Y'`/`'N'` in older ones).
 * @returns undefined when the portal has no such user
 * @throws the client's errors (no `user` scope, portal unreachable)
 */
export async function bitrixUserById(client: Client, id: string): Promise<BitrixUserView | undefined> {
  if (!/^\d{1,18}$/.test(id)) return undefined;
  const r = await client.call<Record<string, unknown>[]>('user.get', { ID: id });
  const u = (Array.isArray(r.result) ? r.result : []).find((x) => x && String(x.ID) === id);
  if (!u) return undefined;
  const name = [u.NAME, u.LAST_NAME].filter((v) => typeof v === 'string' && v.trim()).join(' ');
  return {
    id,
    name: name || (typeof u.EMAIL === 'string' && u.EMAIL ? u.EMAIL : `user ${id}`),
    active: u.ACTIVE === true || u.ACTIVE === 'Y',
  };
}

/**
 * Sends a system notification to a user (`im.notify.system.add`: `USER_ID`, `MESSAGE`). The audit log records
 * parameter names only, so a code in `text` stays out of it.
 * @throws the client's errors
 */
export async function notifyBitrixUser(client: Client, bitrixUserId: string, text: string): Promise<void> {
  await client.call('im.notify.system.add', { USER_ID: Number(bitrixUserId), MESSAGE: text });
}

/** The {@link LinkPortal} of a connected client. */
export function linkPortal(client: Client): LinkPortal {
  return {
    portal: client.portal?.id ?? '',
    bitrixUser: (id) => bitrixUserById(client, id),
    notifyUser: (id, text) => notifyBitrixUser(client, id, text),
  };
}

/**
 * The Bitrix24 user ids a pipeline document names as approvers (`approvers.users`: numbers or numeric strings).
 * Read defensively: a pipeline without the key, or with another shape, names none.
 */
export function approverIds(doc: unknown): string[] {
  if (!doc || typeof doc !== 'object') return [];
  const approvers = (doc as { approvers?: unknown }).approvers;
  if (!approvers || typeof approvers !== 'object') return [];
  const users = (approvers as { users?: unknown }).users;
  if (!Array.isArray(users)) return [];
  return users
    .filter((u) => (typeof u === 'number' && Number.isInteger(u)) || (typeof u === 'string' && /^\d+$/.test(u)))
    .map(String);
}
