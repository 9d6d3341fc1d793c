/**
 * The store opens and migrates on both backends (SQLite file in the data dir; PostgreSQL from
 * B24FLOW_TEST_DATABASE_URL), concurrent openers migrate once, and values round-trip with the same types.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { testDir } from '../support/testRoot.js';
import { backends } from './backends.js';

const all = backends('b24flow-store');

describe.each(all)('store on $name', (b) => {
  it('migrates once when four processes-worth of openers start at once, and round-trips numbers and text', async () => {
    const stores = await Promise.all([b.open(), b.open(), b.open(), b.open()]);
    const [s] = stores;
    const t = Date.UTC(2026, 11, 3, 12, 0, 0, 123);
    await s!.db.insertInto('settings').values({ name: 'probe', value: 'привет "json"', updated_ms: t }).execute();
    const row = await stores[3]!.db.selectFrom('settings').selectAll().where('name', '=', 'probe').executeTakeFirst();
    expect(row).toEqual({ name: 'probe', value: 'привет "json"', updated_ms: t });
    expect(typeof row!.updated_ms).toBe('number');
    const migrations = await s!.db
      .selectFrom('kysely_migration' as never)
      .select('name' as never)
      .execute();
    expect(migrations).toHaveLength(Object.keys(MIGRATIONS).length);
    for (const x of stores) await x.close();
  });

  it('a unique key is claimed by exactly one of many concurrent inserts', async () => {
    const stores = await Promise.all([b.open(), b.open(), b.open()]);
    const results = await Promise.all(
      stores.flatMap((s, i) =>
        Array.from({ length: 5 }, (_, j) =>
          s.db
            .insertInto('schedule_slots')
            .values({
              schedule_id: 'p#0',
              pipeline: 'p',
              slot_ms: 1000,
              claimed_by: `w${i}.${j}`,
              run_id: null,
              at_ms: Date.now(),
            })
            .onConflict((oc) => oc.doNothing())
            .executeTakeFirst()
            .then((r) => Number(r.numInsertedOrUpdatedRows ?? 0)),
        ),
      ),
    );
    expect(results.reduce((a, x) => a + x, 0)).toBe(1);
    for (const x of stores) await x.close();
  });
});

describe('sqlite file', () => {
  it('lives in the data dir, private', async () => {
    const dir = testDir('b24flow-store-file-');
    const s = await openStore({ dataDir: dir });
    await s.close();
    expect(statSync(join(dir, 'b24flow.db')).mode & 0o077).toBe(0);
  });

  it('names the database without its password when it cannot be reached', async () => {
    await expect(
      openStore({ dataDir: testDir('b24flow-store-x-'), url: 'postgres://u:s3cr3t-pw@127.0.0.1:1/db' }),
    ).rejects.toThrow(/cannot open the store at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/);
    await expect(
      openStore({ dataDir: testDir('b24flow-store-x-'), url: 'postgres://u:s3cr3t-pw@127.0.0.1:1/db' }),
    ).rejects.not.toThrow(/s3cr3t/);
  });
});

describe('sqlite across processes', () => {
  it('four processes opening a new store at once migrate it once, and each of their 50 slot claims lands once', async () => {
    const dir = testDir('b24flow-store-procs-');
    const script = `
      import { openStore } from ${JSON.stringify(new URL('../../src/store/index.ts', import.meta.url).pathname)};
      const s = await openStore({ dataDir: process.argv[1] });
      let won = 0;
      for (let i = 0; i < 50; i++) {
        const r = await s.db.insertInto('schedule_slots')
          .values({ schedule_id: 'p#0', pipeline: 'p', slot_ms: i, claimed_by: String(process.pid), run_id: null, at_ms: Date.now() })
          .onConflict((oc) => oc.doNothing()).executeTakeFirst();
        won += Number(r.numInsertedOrUpdatedRows ?? 0);
      }
      await s.close();
      process.stdout.write(String(won));`;
    const { spawn } = await import('node:child_process');
    const outs = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<string>((res, rej) => {
            const c = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir], {
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            let out = '';
            let err = '';
            c.stdout.on('data', (d) => (out += d));
            c.stderr.on('data', (d) => (err += d));
            c.on('close', (code) => (code === 0 ? res(out) : rej(new Error(err))));
          }),
      ),
    );
    expect(outs.map(Number).reduce((a, x) => a + x, 0)).toBe(50);
    const s = await openStore({ dataDir: dir });
    expect(
      await s.db
        .selectFrom('kysely_migration' as never)
        .selectAll()
        .execute(),
    ).toHaveLength(Object.keys(MIGRATIONS).length);
    expect(await s.db.selectFrom('schedule_slots').selectAll().execute()).toHaveLength(50);
    await s.close();
  });
});
