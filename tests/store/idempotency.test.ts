/**
 * Contract of the store's idempotency keys (src/store/idempotency.ts) on SQLite and PostgreSQL: completed keys
 * round-trip (the first result wins); a key is claimed by exactly one of many concurrent claimers; another running
 * run's claim is `held`, a stopped run's claim is taken over once (`orphaned`); a claim given back can be claimed
 * again; done keys answer `done` with their result.
 */
import { describe, expect, it } from 'vitest';
import { RUN_STALE_MS } from '../../src/pipeline/index.js';
import { SqlIdempotencyStore } from '../../src/store/idempotency.js';
import { SqlJournal } from '../../src/store/journal.js';
import { backends } from './backends.js';

const run = (runId: string, status: 'running' | 'failed') => ({
  runId,
  pipeline: { name: 'p', hash: 'h', object: {} },
  mode: 'full' as const,
  confirmWrite: true,
  confirmDestructive: false,
  inputs: {},
  now: 1,
  status,
  startedAt: new Date().toISOString(),
  steps: {},
});

describe.each(backends('b24flow-idem'))('SqlIdempotencyStore on $name', (b) => {
  it('records and loads completed keys; the first result of a key wins', async () => {
    const s = new SqlIdempotencyStore(await b.open());
    await s.record('scope1', [
      { key: 'a', result: 1 },
      { key: 'b', result: { id: 2 } },
    ]);
    await s.record('scope1', [{ key: 'a', result: 99 }]);
    await s.record('scope2', [{ key: 'a', result: 3 }]);
    expect(await s.load('scope1')).toEqual(
      new Map<string, unknown>([
        ['a', 1],
        ['b', { id: 2 }],
      ]),
    );
    expect(await s.load('scope1', ['b', 'zz'])).toEqual(new Map([['b', { id: 2 }]]));
    expect(await s.load('nothing')).toEqual(new Map());
  });

  it('each of 300 keys is claimed by exactly one of 4 concurrent claimers', async () => {
    const stores = await Promise.all([b.open(), b.open(), b.open(), b.open()]);
    const j = new SqlJournal(stores[0]!);
    for (let i = 0; i < 4; i++) await j.begin(run(`claimer${i}`, 'running'));
    const keys = Array.from({ length: 300 }, (_, i) => `k${i}`);
    const got = await Promise.all(
      stores.map((st, i) =>
        new SqlIdempotencyStore(st).claim(
          'race',
          [...keys].sort(() => Math.random() - 0.5),
          `claimer${i}`,
        ),
      ),
    );
    for (const k of keys) {
      const mine = got.filter((m) => m.get(k)?.state === 'mine');
      expect(mine).toHaveLength(1);
      expect(got.filter((m) => m.get(k)?.state === 'held')).toHaveLength(3);
    }
  });

  it('holds, gives back, takes over a stopped run’s claim once, and answers done', async () => {
    const st = await b.open();
    const s = new SqlIdempotencyStore(st);
    const j = new SqlJournal(st);
    await j.begin(run('alive', 'running'));
    await j.begin(run('other', 'running'));
    expect((await s.claim('sc', ['x', 'y', 'z'], 'alive')).get('x')).toEqual({ state: 'mine' });
    // the same run asking again still holds them
    expect((await s.claim('sc', ['x'], 'alive')).get('x')).toEqual({ state: 'mine' });
    expect((await s.claim('sc', ['x'], 'other')).get('x')).toEqual({ state: 'held', holder: 'alive' });
    // a claim given back (write not sent, or failed) can be claimed by another run
    await s.release('sc', ['y'], 'alive');
    expect((await s.claim('sc', ['y'], 'other')).get('y')).toEqual({ state: 'mine' });
    // done: the result, to everyone
    await s.record('sc', [{ key: 'x', result: 42 }]);
    expect((await s.claim('sc', ['x'], 'other')).get('x')).toEqual({ state: 'done', result: 42 });
    await s.release('sc', ['x'], 'alive'); // a done key is never given back
    expect(await s.load('sc', ['x'])).toEqual(new Map([['x', 42]]));
    // the holder stops without an outcome for z: the next claimer takes it over once, as orphaned
    await j.update({ ...run('alive', 'failed'), finishedAt: new Date().toISOString() });
    const [c1, c2] = await Promise.all([s.claim('sc', ['z'], 'other'), s.claim('sc', ['z'], 'third')]);
    const states = [c1.get('z')!.state, c2.get('z')!.state].sort();
    expect(states).toEqual(['held', 'orphaned']);
  });

  it('a run of another host holds its claims while its heartbeat is fresh; once it stops, they are taken over', async () => {
    const st = await b.open();
    const s = new SqlIdempotencyStore(st);
    const j = new SqlJournal(st);
    await j.begin(run('far', 'running'));
    await j.begin(run('near', 'running'));
    // the run's process lives on another machine: this host cannot see whether it runs
    await st.db
      .updateTable('runs')
      .set({ owner_json: JSON.stringify({ host: 'another-machine', pid: 4242 }) })
      .where('run_id', '=', 'far')
      .execute();
    expect((await s.claim('sc', ['k'], 'far')).get('k')).toEqual({ state: 'mine' });
    await j.heartbeat('far');
    expect((await s.claim('sc', ['k'], 'near')).get('k')).toEqual({ state: 'held', holder: 'far' });
    expect((await j.get('far'))?.status).toBe('running');
    // no heartbeat for longer than RUN_STALE_MS: that machine's process is taken as gone
    await st.db
      .updateTable('runs')
      .set({ updated_ms: Date.now() - RUN_STALE_MS - 1000 })
      .where('run_id', '=', 'far')
      .execute();
    expect((await s.claim('sc', ['k'], 'near')).get('k')?.state).toBe('orphaned');
    // and `b24flow runs` shows it as interrupted (to resume)
    expect((await j.get('far'))?.status).toBe('interrupted');
  });
});
