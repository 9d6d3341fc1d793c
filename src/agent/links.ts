/**
 * Chat users linked to Bitrix24 users (issue 14). A chat user asks to be linked to a Bitrix24 user
 * (`/link <bitrix user id>` in chat, or an administrator's `b24flow bot link-code`); the portal is asked whether that
 * user exists and is active, and a one-time code goes to that Bitrix24 user's notifications (`im.notify.system.add`),
 * never to the chat. Whoever can read the Bitrix24 user's notifications sends `/link <code>` back from the same chat
 * user, which proves both sides belong to one person. The {@link ChatLinks} port keeps the codes and the links; the
 * store implements it (src/store/links.ts), {@link MemoryLinks} serves unit tests.
 */
import { createHash, randomInt } from 'node:crypto';

/** How long a link code is valid by default, ms (15 min). */
export const LINK_CODE_TTL_MS = 15 * 60_000;

/** A link code: exactly 8 digits. */
export const LINK_CODE = /^\d{8}$/;

/** Why a code was not accepted. */
export type LinkRefusal = 'unknown' | 'expired' | 'other-user';

/** What {@link ChatLinks.redeem} answers: the Bitrix24 user now linked, or why not. */
export type LinkRedeemResult = { bitrixUserId: string } | { refused: LinkRefusal };

/**
 * Links between chat users (`tg:123`, `api:…`) and Bitrix24 users, and the one-time codes that make them. Every
 * method is durable when it resolves; errors are the storage's.
 */
export interface ChatLinks {
  /**
   * A new code for `chatUserId` to link to `bitrixUserId` on `portal` (`member_id` or webhook host; `''` when
   * unknown). Only its SHA-256 is kept; a new request replaces that chat user's older pending codes.
   * @param ttlMs validity, ms (default {@link LINK_CODE_TTL_MS})
   * @returns the 8-digit code (to deliver to the Bitrix24 user, never to the chat)
   */
  requestCode(chatUserId: string, bitrixUserId: string, portal: string, ttlMs?: number): Promise<string>;
  /**
   * Uses a code: it works once, only for the chat user it was issued to, on its portal. A code of another chat
   * user (or portal) is refused as `other-user` and stays valid for its owner; a wrong code also voids the caller's
   * own pending codes (one guess per delivered code). Success links the chat user (replacing an older link).
   */
  redeem(chatUserId: string, code: string, portal: string): Promise<LinkRedeemResult>;
  /** The Bitrix24 user a chat user is linked to, or undefined. */
  bitrixUserOf(chatUserId: string): Promise<string | undefined>;
  /** Every chat user linked to `bitrixUserId` on `portal` (reverse lookup), sorted. */
  chatsOf(bitrixUserId: string, portal: string): Promise<string[]>;
  /** Removes a chat user's link and pending codes; false when it had no link. */
  unlink(chatUserId: string): Promise<boolean>;
}

/** A new 8-digit code (uniform over 10000000..99999999). */
export function newLinkCode(): string {
  return String(randomInt(10_000_000, 100_000_000));
}

/** The stored form of a code: SHA-256 hex with a domain prefix. */
export function linkCodeHash(code: string): string {
  return createHash('sha256').update(`b24flow-link:${code.trim()}`).digest('hex');
}

/** Checks the ids a link request is made of. @throws Error when the Bitrix24 user id is not a number */
export function checkLinkIds(chatUserId: string, bitrixUserId: string): void {
  if (!/^\d{1,18}$/.test(bitrixUserId)) throw new Error('the Bitrix24 user id must be a number');
  if (!chatUserId || chatUserId.length > 200) throw new Error('the chat user id must be 1-200 characters');
}

/**
 * The notification text a Bitrix24 user receives with a code (both languages; the portal's language is unknown).
 * Names the chat user who asked, so the person can tell whether it was them.
 */
export function linkCodeMessage(chatUserId: string, code: string, ttlMs: number): string {
  const min = Math.max(1, Math.round(ttlMs / 60_000));
  return [
    `b24flow: chat user ${chatUserId} asks to be linked to your Bitrix24 account. If it was you, send /link ${code} to the bot within ${min} min. If it was not you, ignore this message.`,
    `b24flow: пользователь чата ${chatUserId} просит связать его с вашей учётной записью Битрикс24. Если это вы, отправьте боту /link ${code} в течение ${min} мин. Если это были не вы, просто проигнорируйте сообщение.`,
  ].join('\n\n');
}

/** A Bitrix24 user as the link flow sees it (`user.get`). */
export interface BitrixUserView {
  id: string;
  /** `NAME LAST_NAME`, else the e-mail, else `user <id>`. */
  name: string;
  active: boolean;
}

/** What sending a code needs of the portal (the ChatEngine has both; `bot link-code` builds them over a client). */
export interface LinkPortal {
  /** The portal: `member_id` (OAuth) or the webhook's host. */
  readonly portal: string;
  bitrixUser(id: string): Promise<BitrixUserView | undefined>;
  notifyUser(bitrixUserId: string, text: string): Promise<void>;
}

/**
 * Starts a link: checks that `bitrixUserId` is an active user of the portal, makes a code bound to `chatUserId` and
 * delivers it to that user's Bitrix24 notifications.
 * @returns the user the code went to, or why nothing was sent (`no-user`: unknown or inactive)
 * @throws the portal's or the storage's errors (a code not delivered is never shown anywhere)
 */
export async function sendLinkCode(
  links: ChatLinks,
  portal: LinkPortal,
  chatUserId: string,
  bitrixUserId: string,
  ttlMs = LINK_CODE_TTL_MS,
): Promise<{ sentTo: BitrixUserView } | { refused: 'no-user' }> {
  checkLinkIds(chatUserId, bitrixUserId);
  const user = await portal.bitrixUser(bitrixUserId);
  if (!user?.active) return { refused: 'no-user' };
  const code = await links.requestCode(chatUserId, bitrixUserId, portal.portal, ttlMs);
  await portal.notifyUser(bitrixUserId, linkCodeMessage(chatUserId, code, ttlMs));
  return { sentTo: user };
}

interface PendingCode {
  chatUserId: string;
  bitrixUserId: string;
  portal: string | null;
  expiresMs: number;
}

/** {@link ChatLinks} in memory (unit tests, one-shot runs); the same rules as the store's. */
export class MemoryLinks implements ChatLinks {
  private readonly codes = new Map<string, PendingCode>();
  private readonly links = new Map<string, { bitrixUserId: string; portal: string }>();

  /** @param clock ms since epoch (tests move it forward) */
  constructor(private readonly clock: () => number = Date.now) {}

  async requestCode(chatUserId: string, bitrixUserId: string, portal: string, ttlMs = LINK_CODE_TTL_MS) {
    checkLinkIds(chatUserId, bitrixUserId);
    this.dropCodesOf(chatUserId);
    let code = newLinkCode();
    while (this.codes.has(linkCodeHash(code))) code = newLinkCode();
    this.codes.set(linkCodeHash(code), { chatUserId, bitrixUserId, portal, expiresMs: this.clock() + ttlMs });
    return code;
  }

  async redeem(chatUserId: string, code: string, portal: string): Promise<LinkRedeemResult> {
    const hash = linkCodeHash(code);
    const hit = this.codes.get(hash);
    if (!hit || hit.chatUserId !== chatUserId || (hit.portal !== null && hit.portal !== portal)) {
      this.dropCodesOf(chatUserId);
      return { refused: hit ? 'other-user' : 'unknown' };
    }
    this.codes.delete(hash);
    if (hit.expiresMs <= this.clock()) return { refused: 'expired' };
    this.dropCodesOf(chatUserId);
    this.links.set(chatUserId, { bitrixUserId: hit.bitrixUserId, portal });
    return { bitrixUserId: hit.bitrixUserId };
  }

  async bitrixUserOf(chatUserId: string) {
    return this.links.get(chatUserId)?.bitrixUserId;
  }

  async chatsOf(bitrixUserId: string, portal: string) {
    return [...this.links]
      .filter(([, l]) => l.bitrixUserId === bitrixUserId && l.portal === portal)
      .map(([c]) => c)
      .sort();
  }

  async unlink(chatUserId: string) {
    this.dropCodesOf(chatUserId);
    return this.links.delete(chatUserId);
  }

  private dropCodesOf(chatUserId: string): void {
    for (const [h, c] of this.codes) if (c.chatUserId === chatUserId) this.codes.delete(h);
  }
}
