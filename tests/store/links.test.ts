/**
 * The chat links contract (src/agent/links.ts) on the store, on both backends, and on the in-memory links of the
 * unit tests: codes are 8 digits, stored only as SHA-256, work once, only for the chat user who asked and on their
 * portal, expire, and a new request replaces the older one; the reverse lookup finds every chat of a Bitrix24 user.
 */
import { describe, expect, it } from 'vitest';
import { type ChatLinks, LINK_CODE_TTL_MS, linkCodeHash, MemoryLinks } from '../../src/agent/links.js';
import type { Store } from '../../src/store/index.js';
import { StoreLinks } from '../../src/store/links.js';
import { backends } from './backends.js';

interface Impl {
  name: string;
  make(clock: () => number): Promise<{ links: ChatLinks; store?: Store }>;
}

const impls: Impl[] = [
  { name: 'memory', make: async (clock) => ({ links: new MemoryLinks(clock) }) },
  ...backends('b24flow-links').map(
    (b): Impl => ({
      name: b.name,
      make: async (clock) => {
        const store = await b.open();
        return { links: new StoreLinks(store, clock), store };
      },
    }),
  ),
];

describe.each(impls)('chat links on $name', (impl) => {
  let now = Date.UTC(2026, 11, 3, 12, 0, 0);
  const clock = () => now;
  // every test uses its own ids, so the backends' one database serves them all
  const ids = (tag: string) => ({ a: `tg:${tag}1`, b: `tg:${tag}2`, portal: `${tag}.bitrix24.test` });

  it('links once with the code of the chat user who asked; only the hash is stored', async () => {
    const { links, store } = await impl.make(clock);
    const { a, portal } = ids('once');
    const code = await links.requestCode(a, '7', portal);
    expect(code).toMatch(/^\d{8}$/);
    if (store) {
      const rows = await store.db.selectFrom('link_codes').selectAll().where('chat_user_id', '=', a).execute();
      expect(rows).toEqual([
        {
          code_hash: linkCodeHash(code),
          chat_user_id: a,
          bitrix_user_id: '7',
          portal,
          expires_ms: now + LINK_CODE_TTL_MS,
        },
      ]);
      expect(JSON.stringify(rows)).not.toContain(code);
    }
    expect(await links.bitrixUserOf(a)).toBeUndefined();
    expect(await links.redeem(a, code, portal)).toEqual({ bitrixUserId: '7' });
    expect(await links.bitrixUserOf(a)).toBe('7');
    expect(await links.redeem(a, code, portal)).toEqual({ refused: 'unknown' });
    expect(await links.chatsOf('7', portal)).toEqual([a]);
  });

  it('refuses another chat user’s code without using it up, and links nothing', async () => {
    const { links } = await impl.make(clock);
    const { a, b, portal } = ids('other');
    const code = await links.requestCode(a, '8', portal);
    expect(await links.redeem(b, code, portal)).toEqual({ refused: 'other-user' });
    expect(await links.bitrixUserOf(b)).toBeUndefined();
    expect(await links.chatsOf('8', portal)).toEqual([]);
    // the code is still its owner's, on its portal only
    expect(await links.redeem(a, code, 'elsewhere.bitrix24.test')).toEqual({ refused: 'other-user' });
    const again = await links.requestCode(a, '8', portal);
    expect(await links.redeem(b, again, portal)).toEqual({ refused: 'other-user' });
    expect(await links.redeem(a, again, portal)).toEqual({ bitrixUserId: '8' });
  });

  it('a code expires; a new request replaces the older one; a wrong guess voids the pending code', async () => {
    const { links } = await impl.make(clock);
    const { a, portal } = ids('expire');
    const old = await links.requestCode(a, '9', portal, 60_000);
    now += 61_000;
    expect(await links.redeem(a, old, portal)).toEqual({ refused: 'expired' });
    const first = await links.requestCode(a, '9', portal);
    const second = await links.requestCode(a, '10', portal);
    if (first !== second) expect(await links.redeem(a, first, portal)).toEqual({ refused: 'unknown' });
    const third = await links.requestCode(a, '11', portal);
    const wrong = third === '12345678' ? '87654321' : '12345678';
    expect(await links.redeem(a, wrong, portal)).toEqual({ refused: 'unknown' });
    expect(await links.redeem(a, third, portal)).toEqual({ refused: 'unknown' });
    expect(await links.bitrixUserOf(a)).toBeUndefined();
    expect(second).toMatch(/^\d{8}$/);
  });

  it('finds every chat of a Bitrix24 user on a portal, relinks and unlinks', async () => {
    const { links } = await impl.make(clock);
    const { a, b, portal } = ids('reverse');
    for (const chat of [b, a])
      expect(await links.redeem(chat, await links.requestCode(chat, '21', portal), portal)).toEqual({
        bitrixUserId: '21',
      });
    expect(await links.chatsOf('21', portal)).toEqual([a, b]);
    expect(await links.chatsOf('21', 'elsewhere.bitrix24.test')).toEqual([]);
    expect(await links.redeem(a, await links.requestCode(a, '22', portal), portal)).toEqual({ bitrixUserId: '22' });
    expect(await links.chatsOf('21', portal)).toEqual([b]);
    expect(await links.chatsOf('22', portal)).toEqual([a]);
    expect(await links.unlink(b)).toBe(true);
    expect(await links.unlink(b)).toBe(false);
    expect(await links.chatsOf('21', portal)).toEqual([]);
    expect(await links.bitrixUserOf(b)).toBeUndefined();
  });

  it('refuses a Bitrix24 user id that is not a number', async () => {
    const { links } = await impl.make(clock);
    await expect(links.requestCode('tg:x', 'admin', '')).rejects.toThrow(/must be a number/);
  });
});

describe.each(impls.filter((i) => i.name !== 'memory'))('chat links shared by two openers on $name', (impl) => {
  it('a code redeemed at once through two handles links exactly once', async () => {
    const x = await impl.make(Date.now);
    const y = await impl.make(Date.now);
    const chat = `tg:race${Date.now()}`;
    const code = await x.links.requestCode(chat, '5', 'race.test');
    const results = await Promise.all([
      x.links.redeem(chat, code, 'race.test'),
      y.links.redeem(chat, code, 'race.test'),
    ]);
    expect(results.filter((r) => 'bitrixUserId' in r)).toHaveLength(1);
    expect(await y.links.bitrixUserOf(chat)).toBe('5');
  });
});
