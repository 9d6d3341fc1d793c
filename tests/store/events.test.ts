/**
 * Contract of the intake and the processed keys on the store (src/store/events.ts, processed.ts), on SQLite and
 * PostgreSQL: an accepted event is leased to its acceptor; concurrent claimers never get the same event; an expired
 * lease is claimed again (and its old holder can no longer renew it); settling is one transaction (processed keys
 * with the removal, dead letter with the removal); of 8 concurrent marks of one key exactly one wins; the offline
 * worker's state round-trips; the old intake / processed / offline-state files are imported once.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreDeadLetters } from '../../src/store/dlq.js';
import { StoreEvents, StoreOfflineState } from '../../src/store/events.js';
import { importEvents } from '../../src/store/import/events.js';
import type { Store } from '../../src/store/index.js';
import { StoreProcessedKeys } from '../../src/store/processed.js';
import type { B24Event } from '../../src/triggers/types.js';
import { testDir } from '../support/testRoot.js';
import { backends } from './backends.js';

const all = backends('b24flow-events');
afterAll(async () => {
  for (const b of all) await b.cleanup();
});

const ev = (id: number): B24Event => ({
  name: 'ONCRMDEALADD',
  data: { FIELDS: { ID: String(id) } },
  ts: 1766047124,
  key: `ONCRMDEALADD:${id}`,
  source: 'online',
  objectId: String(id),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function empty(s: Store): Promise<void> {
  for (const t of ['events', 'processed_events', 'dead_letters', 'offline_sync'] as const)
    await s.db.deleteFrom(t).execute();
}

describe.each(all)('intake and processed keys on $name', (b) => {
  it('leases an accepted event to its acceptor; nobody else claims it until the lease runs out', async () => {
    const s = await b.open();
    await empty(s);
    const events = new StoreEvents(s);
    const stored = await events.add(ev(1), 'acceptor', 200);
    expect(stored).toMatchObject({ event: ev(1), attempts: 0 });
    expect(await events.count()).toBe(1);
    expect(await events.claimDue(10, 'other', 60_000)).toEqual([]);
    expect(await events.renew(stored.id, 'acceptor', 200)).toBe(true);
    await sleep(300);
    // the acceptor died: its lease ran out, another worker takes the event over
    const taken = await events.claimDue(10, 'other', 60_000);
    expect(taken).toEqual([stored]);
    expect(await events.renew(stored.id, 'acceptor', 200)).toBe(false);
    expect(await events.claimDue(10, 'third', 60_000)).toEqual([]);
    await s.close();
  });

  it('gives every free event to exactly one of four concurrent claimers', async () => {
    const handles = await Promise.all([b.open(), b.open(), b.open(), b.open()]);
    await empty(handles[0]!);
    const N = 200;
    const seed = new StoreEvents(handles[0]!);
    // accepted by a worker whose lease is already over: free for anyone
    for (let i = 0; i < N; i++) await seed.add(ev(i), 'gone', -1);
    const got = await Promise.all(
      handles.map(async (h, w) => {
        const mine: string[] = [];
        const events = new StoreEvents(h);
        for (;;) {
          const batch = await events.claimDue(7, `worker-${w}`, 60_000);
          if (!batch.length) break;
          mine.push(...batch.map((x) => x.id));
        }
        return mine;
      }),
    );
    const ids = got.flat();
    console.log(`[${b.name}] ${N} events claimed by 4 workers: ${got.map((g) => g.length).join(' + ')}`);
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
    const owners = await handles[0]!.db.selectFrom('events').select(['leased_by']).execute();
    expect(owners.every((o) => /^worker-\d$/.test(o.leased_by ?? ''))).toBe(true);
    for (const h of handles) await h.close();
  });

  it('settles in one transaction: complete records the processed keys; fail backs off; deadLetter moves it to the DLQ', async () => {
    const s = await b.open();
    await empty(s);
    const events = new StoreEvents(s);
    const processed = new StoreProcessedKeys(s);
    const dlq = new StoreDeadLetters(s);
    const a = await events.add(ev(1), 'w', 60_000);
    const c = await events.add(ev(2), 'w', 60_000);
    await events.complete(a.id, ['ONCRMDEALADD:1#p', 'ONCRMDEALADD:1#q']);
    expect(await processed.has('ONCRMDEALADD:1#p')).toBe(true);
    expect(await processed.has('ONCRMDEALADD:1#q')).toBe(true);
    expect(await events.count()).toBe(1);
    // a failed attempt released for anyone, due later: not claimable before its time
    await events.fail(c.id, 'p: boom', Date.now() + 300);
    expect(await events.claimDue(10, 'x', 60_000)).toEqual([]);
    await sleep(350);
    const [retry] = await events.claimDue(10, 'x', 60_000);
    expect(retry).toMatchObject({ id: c.id, attempts: 1 });
    // a failed attempt kept by its holder through the back-off: nobody else takes it
    await events.fail(c.id, 'p: boom', Date.now() - 1, { holder: 'x', leaseMs: 60_000 });
    expect(await events.claimDue(10, 'y', 60_000)).toEqual([]);
    await events.release(c.id, 'x');
    expect((await events.claimDue(10, 'y', 60_000)).map((e) => e.attempts)).toEqual([2]);
    const d = await events.deadLetter(c.id, ev(2), { error: 'p: boom', attempts: 3, pipelines: ['p'] });
    expect(await events.count()).toBe(0);
    expect(await dlq.list()).toEqual([d]);
    await s.close();
  });

  it('processed keys: of 8 concurrent marks of one key (from two handles) exactly one wins', async () => {
    const [h1, h2] = await Promise.all([b.open(), b.open()]);
    await empty(h1!);
    const keys = [new StoreProcessedKeys(h1!), new StoreProcessedKeys(h2!)];
    expect(await keys[0]!.has('ONCRMDEALADD:7#p')).toBe(false);
    const won = await Promise.all(Array.from({ length: 8 }, (_, i) => keys[i % 2]!.add('ONCRMDEALADD:7#p')));
    expect(won.filter(Boolean)).toHaveLength(1);
    expect(await keys[1]!.has('ONCRMDEALADD:7#p')).toBe(true);
    expect(await keys[0]!.add('ONCRMDEALADD:7#p')).toBe(false);
    await h1!.close();
    await h2!.close();
  });

  it('keeps the offline worker state per name', async () => {
    const s = await b.open();
    await empty(s);
    const st = new StoreOfflineState(s);
    expect(await st.load()).toBeUndefined();
    const state = {
      processIds: ['b24flow-1', 'b24flow-2'],
      attempts: { '5': { attempts: 2, firstSeen: 1, nextAt: 3, lastError: 'x' } },
      dead: {},
    };
    await st.save(state);
    await st.save({ ...state, processIds: ['b24flow-2'] });
    expect(await st.load()).toEqual({ ...state, processIds: ['b24flow-2'] });
    // a worker named per portal starts from the unnamed (imported) state, then keeps its own
    const named = new StoreOfflineState(s, 'offline:portal-2');
    expect(await named.load()).toEqual({ ...state, processIds: ['b24flow-2'] });
    await named.save({ processIds: ['b24flow-9'], attempts: {}, dead: {} });
    expect((await named.load())?.processIds).toEqual(['b24flow-9']);
    expect((await st.load())?.processIds).toEqual(['b24flow-2']);
    await s.close();
  });

  it('imports the old intake files, processed keys and offline state once', async () => {
    const s = await b.open();
    await empty(s);
    const dataDir = testDir('b24flow-events-import-');
    const dir = join(dataDir, 'triggers', 'intake');
    mkdirSync(dir, { recursive: true });
    const first = '2026-11-01T10:00:00.000Z';
    writeFileSync(
      join(dir, '0mfz1k2aa-0001-0a0b0c0d.json'),
      JSON.stringify({ id: 'x', event: ev(3), attempts: 2, firstSeen: first }),
    );
    writeFileSync(join(dir, '0mfz1k2ab-0002-0a0b0c0d.json'), '{"id": "torn');
    writeFileSync(
      join(dataDir, 'triggers', 'processed.jsonl'),
      `${JSON.stringify({ k: 'ONCRMDEALADD:1#p', t: 1000 })}\n${JSON.stringify({ k: 'ONCRMDEALADD:2#p', t: 2000 })}\n{"k":"torn`,
    );
    writeFileSync(
      join(dataDir, 'triggers', 'offline-state.json'),
      JSON.stringify({ processIds: ['b24flow-abc'], attempts: {}, dead: {} }),
    );
    const logs: string[] = [];
    expect(await importEvents(s, dataDir, (l) => logs.push(l))).toEqual({ imported: 4, skipped: 2 });
    expect(logs.join('\n')).toMatch(/0mfz1k2ab-0002-0a0b0c0d\.json skipped/);
    const events = new StoreEvents(s);
    const [e] = await events.claimDue(10, 'w', 60_000);
    expect(e).toEqual({ id: '0mfz1k2aa-0001-0a0b0c0d', event: ev(3), attempts: 2, firstSeen: first });
    expect(await new StoreProcessedKeys(s).has('ONCRMDEALADD:2#p')).toBe(true);
    expect((await new StoreOfflineState(s).load())?.processIds).toEqual(['b24flow-abc']);
    // twice: nothing new
    expect((await importEvents(s, dataDir)).imported).toBe(0);
    expect(await events.count()).toBe(1);
    await s.close();
  });
});
