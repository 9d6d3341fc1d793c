/**
 * Chat links on the store (migration `0002_chat_links`): `chat_links` (one row per chat user; index on portal +
 * Bitrix24 user for the reverse lookup) and `link_codes` (pending codes, SHA-256 only). Shared by every process on
 * the store (`bot`, `chat`, `serve`'s chat API, `bot link-code`). A code is consumed by a delete conditioned on its
 * owner, so of two processes redeeming the same code only the one whose delete removed the row links.
 */
import {
  type ChatLinks,
  checkLinkIds,
  LINK_CODE_TTL_MS,
  type LinkRedeemResult,
  linkCodeHash,
  newLinkCode,
} from '../agent/links.js';
import type { Store } from './db.js';

/** {@link ChatLinks} on the database (see module doc). */
export class StoreLinks implements ChatLinks {
  /** @param clock ms since epoch (tests move it forward) */
  constructor(
    private readonly store: Store,
    private readonly clock: () => number = Date.now,
  ) {}

  async requestCode(chatUserId: string, bitrixUserId: string, portal: string, ttlMs = LINK_CODE_TTL_MS) {
    checkLinkIds(chatUserId, bitrixUserId);
    const now = this.clock();
    for (let attempt = 0; ; attempt++) {
      const code = newLinkCode();
      const inserted = await this.store.db.transaction().execute(async (trx) => {
        // the chat user's older requests, and every expired code (nobody can use them any more)
        await trx
          .deleteFrom('link_codes')
          .where((eb) => eb.or([eb('chat_user_id', '=', chatUserId), eb('expires_ms', '<=', now)]))
          .execute();
        const r = await trx
          .insertInto('link_codes')
          .values({
            code_hash: linkCodeHash(code),
            chat_user_id: chatUserId,
            bitrix_user_id: bitrixUserId,
            portal,
            expires_ms: now + ttlMs,
          })
          .onConflict((oc) => oc.column('code_hash').doNothing())
          .executeTakeFirst();
        return Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
      });
      // another chat user's pending code has the same digits (1 in 10^8 per pending code): draw again
      if (inserted) return code;
      if (attempt >= 5) throw new Error('could not draw a free link code');
    }
  }

  async redeem(chatUserId: string, code: string, portal: string): Promise<LinkRedeemResult> {
    const hash = linkCodeHash(code);
    return this.store.db.transaction().execute(async (trx): Promise<LinkRedeemResult> => {
      const hit = await trx.selectFrom('link_codes').selectAll().where('code_hash', '=', hash).executeTakeFirst();
      if (!hit || hit.chat_user_id !== chatUserId || (hit.portal !== null && hit.portal !== portal)) {
        // a wrong guess voids the caller's own pending code; another chat user's code stays valid for its owner
        await trx.deleteFrom('link_codes').where('chat_user_id', '=', chatUserId).execute();
        return { refused: hit ? 'other-user' : 'unknown' };
      }
      const gone = await trx
        .deleteFrom('link_codes')
        .where('code_hash', '=', hash)
        .where('chat_user_id', '=', chatUserId)
        .executeTakeFirst();
      // redeemed by a concurrent call of the same chat user in another process
      if (Number(gone.numDeletedRows) !== 1) return { refused: 'unknown' };
      if (hit.expires_ms !== null && hit.expires_ms <= this.clock()) return { refused: 'expired' };
      await trx.deleteFrom('link_codes').where('chat_user_id', '=', chatUserId).execute();
      const row = { bitrix_user_id: hit.bitrix_user_id, portal: hit.portal ?? portal, linked_ms: this.clock() };
      await trx
        .insertInto('chat_links')
        .values({ chat_user_id: chatUserId, ...row })
        .onConflict((oc) => oc.column('chat_user_id').doUpdateSet(row))
        .execute();
      return { bitrixUserId: hit.bitrix_user_id };
    });
  }

  async bitrixUserOf(chatUserId: string) {
    const row = await this.store.db
      .selectFrom('chat_links')
      .select('bitrix_user_id')
      .where('chat_user_id', '=', chatUserId)
      .executeTakeFirst();
    return row?.bitrix_user_id;
  }

  async chatsOf(bitrixUserId: string, portal: string) {
    const rows = await this.store.db
      .selectFrom('chat_links')
      .select('chat_user_id')
      .where('portal', '=', portal)
      .where('bitrix_user_id', '=', bitrixUserId)
      .orderBy('chat_user_id')
      .execute();
    return rows.map((r) => r.chat_user_id);
  }

  async unlink(chatUserId: string) {
    return this.store.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('link_codes').where('chat_user_id', '=', chatUserId).execute();
      const r = await trx.deleteFrom('chat_links').where('chat_user_id', '=', chatUserId).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
  }
}
