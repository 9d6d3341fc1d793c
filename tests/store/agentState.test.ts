/**
 * The chat agent's state in the store, on both backends: per-user rows that keep users apart (any user id is a key,
 * nothing is a path), what later versions add gets its default, the SQLite file is private, and the old per-user
 * files import once.
 */
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { emptyState } from '../../src/agent/state.js';
import { StoreStateStore } from '../../src/store/agentState.js';
import { importAgentState } from '../../src/store/import/agentState.js';
import { openStore, type Store } from '../../src/store/index.js';
import { freshDatabase, postgresUrl } from '../support/postgres.js';
import { testDir } from '../support/testRoot.js';

type Backend = { name: string; open: (dataDir: string) => Promise<Store>; cleanup: () => Promise<void> };

const backends: Backend[] = [{ name: 'sqlite', open: (dataDir) => openStore({ dataDir }), cleanup: async () => {} }];
let pgDb: ReturnType<typeof freshDatabase> | undefined;
if (postgresUrl)
  backends.push({
    name: 'postgres',
    open: async (dataDir) => {
      pgDb ??= freshDatabase();
      return openStore({ dataDir, url: (await pgDb).url, poolSize: 4 });
    },
    cleanup: async () => (await pgDb)?.drop(),
  });

afterAll(async () => {
  for (const b of backends) await b.cleanup();
});

describe.each(backends)('agent state on $name', (b) => {
  it('persists per user, keeps users apart, and is shared by every opener of the store', async () => {
    const dir = testDir('b24flow-agentstate-');
    const store = await b.open(dir);
    try {
      const states = new StoreStateStore(store);
      const user = `tg:${Date.now()}`;
      const a = await states.load(user);
      expect(a).toMatchObject({ userId: user, goals: [] });
      a.goals.push({ text: 'close Q3 deals', at: new Date().toISOString() });
      a.objects.current_deal_id = '7';
      await states.save(a);
      // another "process": a second state store object on the same database
      const again = await new StoreStateStore(store).load(user);
      expect(again.goals[0]?.text).toBe('close Q3 deals');
      expect(again.objects).toEqual({ current_deal_id: '7' });
      expect((await states.load(`${user}-other`)).goals).toEqual([]);
      const odd = '../../etc/passwd';
      await states.save({ ...emptyState(odd), goals: [{ text: 'g', at: '' }] });
      expect((await states.load(odd)).goals).toHaveLength(1);
      a.goals = [];
      await states.save(a);
      expect((await states.load(user)).goals).toEqual([]);
      if (b.name === 'sqlite') expect(statSync(join(dir, 'b24flow.db')).mode & 0o777).toBe(0o600);
    } finally {
      await store.close();
    }
  });

  it('fills fields a stored state lacks with their defaults, and an unreadable document reads as empty', async () => {
    const dir = testDir('b24flow-agentstate-');
    const store = await b.open(dir);
    try {
      const user = `old:${Date.now()}`;
      await store.db
        .insertInto('agent_state')
        .values({
          user_id: user,
          state_json: JSON.stringify({ userId: user, goals: [{ text: 'x', at: '' }] }),
          updated_ms: 1,
        })
        .execute();
      await store.db
        .insertInto('agent_state')
        .values({ user_id: `${user}-bad`, state_json: '{oops', updated_ms: 1 })
        .execute();
      const states = new StoreStateStore(store);
      const s = await states.load(user);
      expect(s.goals).toHaveLength(1);
      expect(s.metrics.messages).toBe(0);
      expect(s.done).toEqual([]);
      expect(await states.load(`${user}-bad`)).toMatchObject({ userId: `${user}-bad`, goals: [] });
    } finally {
      await store.close();
    }
  });

  it('imports the old per-user state files once, keeping a user the store already has', async () => {
    const dir = testDir('b24flow-agentstate-');
    const store = await b.open(dir);
    try {
      const stamp = Date.now();
      const files = join(dir, 'agent', 'state');
      mkdirSync(files, { recursive: true });
      const u1 = { ...emptyState(`tg:${stamp}1`), goals: [{ text: 'from file', at: '' }] };
      const u2 = { ...emptyState(`tg:${stamp}2`), goals: [{ text: 'stale file', at: '' }] };
      writeFileSync(join(files, 'u1.json'), JSON.stringify(u1));
      writeFileSync(join(files, 'u2.json'), JSON.stringify(u2));
      writeFileSync(join(files, 'broken.json'), '{');
      const states = new StoreStateStore(store);
      await states.save({ ...emptyState(u2.userId), goals: [{ text: 'newer in store', at: '' }] });
      expect(await importAgentState(store, dir)).toEqual({ imported: 1, skipped: 2 });
      expect(await importAgentState(store, dir)).toEqual({ imported: 0, skipped: 3 });
      expect((await states.load(u1.userId)).goals[0]?.text).toBe('from file');
      expect((await states.load(u2.userId)).goals[0]?.text).toBe('newer in store');
      expect(statSync(join(files, 'u1.json')).isFile()).toBe(true);
    } finally {
      await store.close();
    }
  });
});
