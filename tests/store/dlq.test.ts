/**
 * Contract of the dead-letter queue on the store (src/store/dlq.ts), on SQLite and PostgreSQL: one row per event
 * key (an upsert), 10,000 adds in linear time (the time is printed), malformed rows reported and not breaking the
 * rest, and the import of the old `<dataDir>/dlq/*.json` files (malformed files skipped, idempotent).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreDeadLetters } from '../../src/store/dlq.js';
import { importDeadLetters } from '../../src/store/import/dlq.js';
import type { Store } from '../../src/store/index.js';
import type { B24Event } from '../../src/triggers/types.js';
import { testDir } from '../support/testRoot.js';
import { runCli } from '../triggers/processes.js';
import { backends } from './backends.js';

const all = backends('b24flow-dlq');
afterAll(async () => {
  for (const b of all) await b.cleanup();
});

const ev = (id: number, extra: Partial<B24Event> = {}): B24Event => ({
  name: 'ONCRMDEALADD',
  data: { FIELDS: { ID: String(id) } },
  ts: 1766047124,
  key: `ONCRMDEALADD:${id}`,
  source: 'online',
  objectId: String(id),
  ...extra,
});

async function empty(s: Store): Promise<void> {
  await s.db.deleteFrom('dead_letters').execute();
}

describe.each(all)('dead-letter queue on $name', (b) => {
  it('upserts by event key: a second failure of one event updates its entry (attempts added, pipelines merged)', async () => {
    const s = await b.open();
    await empty(s);
    const q = new StoreDeadLetters(s);
    const first = await q.add(ev(1), { error: 'a: boom', attempts: 5, pipelines: ['a'], firstSeen: new Date(1000) });
    const again = await q.add(ev(1, { source: 'replay' }), { error: 'b: bang', attempts: 1, pipelines: ['b', 'a'] });
    await q.add(ev(2), { error: 'a: boom', attempts: 5, pipelines: ['a'] });
    expect(again.id).toBe(first.id);
    expect(await q.size()).toBe(2);
    const got = await q.get(first.id);
    expect(got).toMatchObject({
      id: first.id,
      key: 'ONCRMDEALADD:1',
      source: 'online',
      attempts: 6,
      error: 'b: bang',
      pipelines: ['a', 'b'],
      firstSeen: new Date(1000).toISOString(),
      objectId: '1',
    });
    expect(got!.payloadHash).toMatch(/^[0-9a-f]{64}$/);
    // oldest first; a unique prefix finds an entry
    expect((await q.list()).map((d) => d.key)).toEqual(['ONCRMDEALADD:1', 'ONCRMDEALADD:2']);
    expect((await q.get(first.id.slice(0, -3)))?.id).toBe(first.id);
    expect(await q.drop(first.id)).toBe(true);
    expect(await q.drop(first.id)).toBe(false);
    expect(await q.size()).toBe(1);
    await s.close();
  });

  it('counts every failure of one event when workers dead-letter it at once (two handles, 8 adds)', async () => {
    const [h1, h2] = await Promise.all([b.open(), b.open()]);
    await empty(h1!);
    const qs = [new StoreDeadLetters(h1!), new StoreDeadLetters(h2!)];
    const got = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        qs[i % 2]!.add(ev(42), { error: `w${i}`, attempts: 1, pipelines: [`p${i % 3}`] }),
      ),
    );
    expect(new Set(got.map((d) => d.id)).size).toBe(1);
    const [d] = await qs[0]!.list();
    expect(await qs[0]!.size()).toBe(1);
    expect(d).toMatchObject({ key: 'ONCRMDEALADD:42', attempts: 8 });
    expect([...d!.pipelines].sort()).toEqual(['p0', 'p1', 'p2']);
    await h1!.close();
    await h2!.close();
  });

  it('takes 10,000 adds in linear time (one indexed upsert each; printed, not asserted)', async () => {
    const s = await b.open();
    await empty(s);
    const q = new StoreDeadLetters(s);
    const N = 10_000;
    const lap: number[] = [];
    let t = performance.now();
    const t0 = t;
    for (let i = 0; i < N; i++) {
      await q.add(ev(i), { error: 'p: failed', attempts: 5, pipelines: ['p'] });
      if ((i + 1) % 2_500 === 0) {
        const now = performance.now();
        lap.push(now - t);
        t = now;
      }
    }
    // an update of an existing key at the end costs what it costs at the start
    await q.add(ev(0), { error: 'p: again', attempts: 1, pipelines: ['p'] });
    const total = performance.now() - t0;
    console.log(
      `[${b.name}] ${N} dead-letter adds: ${(total / 1000).toFixed(2)} s (${((total * 1000) / N).toFixed(0)} µs/add); per 2,500: ${lap.map((x) => `${(x / 1000).toFixed(2)} s`).join(', ')}`,
    );
    expect(await q.size()).toBe(N);
    expect((await q.list()).find((d) => d.key === 'ONCRMDEALADD:0')?.attempts).toBe(6);
    await s.close();
  }, 300_000);

  it('reports malformed rows by id without hiding or breaking the rest; show/drop work on them', async () => {
    const s = await b.open();
    await empty(s);
    const q = new StoreDeadLetters(s);
    const good = await q.add(ev(5), { error: 'p: x', attempts: 5, pipelines: ['p'] });
    const row = (letter_id: string, body_json: string) => ({
      letter_id,
      event_key: `bad:${letter_id}`,
      body_json,
      attempts: 0,
      error: '',
      first_seen_ms: 0,
      last_seen_ms: 0,
    });
    await s.db
      .insertInto('dead_letters')
      .values([
        row('torn-1', '{"id": "torn-1", "event": "ONCRM'),
        row('shape-2', '{"id": "shape-2"}'),
        row('other-3', JSON.stringify({ ...good, id: 'not-other-3', key: 'k3' })),
      ])
      .execute();
    const scan = await q.scan();
    expect(scan.entries.map((d) => d.id)).toEqual([good.id]);
    expect(scan.malformed.map((m) => m.id)).toEqual(['other-3', 'shape-2', 'torn-1']);
    expect(scan.malformed[0]!.error).toMatch(/its id not-other-3 is not its row id/);
    expect(scan.malformed[1]!.error).toBe('field event is missing or not a string');
    expect(scan.malformed[2]!.error).toMatch(/JSON/);
    expect(scan.malformed[2]).toMatchObject({
      file: `${s.where}#dead_letters/torn-1`,
      text: '{"id": "torn-1", "event": "ONCRM',
    });
    expect(await q.get('torn-1')).toBeUndefined();
    expect((await q.getMalformed('torn'))?.id).toBe('torn-1');
    expect(await q.size()).toBe(4);
    expect(await q.drop('torn-1')).toBe(true);
    expect((await q.scan()).malformed.map((m) => m.id)).toEqual(['other-3', 'shape-2']);
    // a failure of a key whose row is malformed replaces it, keeping its id
    const fixed = await q.add(ev(3, { key: 'bad:shape-2' }), { error: 'p: y', attempts: 1, pipelines: ['p'] });
    expect(fixed.id).toBe('shape-2');
    expect((await q.get('shape-2'))?.error).toBe('p: y');
    await s.close();
  });

  it('b24flow dlq list/show/drop read and change this same queue (the CLI on this backend)', async () => {
    const s = await b.open();
    await empty(s);
    const q = new StoreDeadLetters(s);
    const d = await q.add(ev(77), { error: 'p: refused', attempts: 5, pipelines: ['p'] });
    const env = { ...(await b.env()), BITRIX_WEBHOOK_URL: '', B24_CLIENT_ID: '', B24_CLIENT_SECRET: '' };
    const list = await runCli(['dlq', 'list', '--json'], env);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual({ size: 1, items: [d], malformed: [] });
    const show = await runCli(['dlq', 'show', d.id.slice(0, -2)], env);
    expect(show.stdout).toContain(`id:          ${d.id}`);
    expect(show.stdout).toContain('error:       p: refused');
    expect((await runCli(['dlq', 'drop', d.id, '--json'], env)).stdout).toBe(
      `${JSON.stringify({ dropped: [d.id] })}\n`,
    );
    expect(await q.size()).toBe(0);
    expect((await runCli(['dlq', 'list'], env)).stdout).toBe('The dead-letter queue is empty.\n');
    await s.close();
  }, 60_000);

  it('imports the old dlq/*.json files once: malformed files reported and skipped, ids and times kept', async () => {
    const s = await b.open();
    await empty(s);
    const q = new StoreDeadLetters(s);
    const dataDir = testDir('b24flow-dlq-import-');
    mkdirSync(join(dataDir, 'dlq'));
    const entry = {
      id: 'mfz1k2-0a1b2c3d',
      event: 'ONCRMDEALUPDATE',
      payload: { FIELDS: { ID: '9' } },
      payloadHash: 'ab'.repeat(32),
      key: 'ONCRMDEALUPDATE:9:1766047124',
      source: 'offline',
      objectId: '9',
      ts: 1766047124,
      rowId: '77',
      pipelines: ['sync'],
      error: 'sync: failed',
      attempts: 5,
      firstSeen: '2026-11-01T10:00:00.000Z',
      lastSeen: '2026-11-01T10:05:00.000Z',
    };
    writeFileSync(join(dataDir, 'dlq', `${entry.id}.json`), JSON.stringify(entry, null, 2));
    writeFileSync(join(dataDir, 'dlq', 'torn.json'), '{"id": "torn", "ev');
    writeFileSync(join(dataDir, 'dlq', 'renamed.json'), JSON.stringify(entry));
    writeFileSync(join(dataDir, 'dlq', 'x.json.tmp'), '{');
    const logs: string[] = [];
    expect(await importDeadLetters(s, dataDir, (l) => logs.push(l))).toEqual({ imported: 1, skipped: 2 });
    expect(logs).toHaveLength(2);
    expect(logs.join('\n')).toMatch(/torn\.json skipped: .*JSON/);
    expect(logs.join('\n')).toMatch(/renamed\.json skipped: its id is not its file name/);
    expect(await q.get(entry.id)).toEqual(entry);
    // twice: nothing new
    expect((await importDeadLetters(s, dataDir)).imported).toBe(0);
    expect(await q.size()).toBe(1);
    // no dlq directory: nothing to do
    expect(await importDeadLetters(s, testDir('b24flow-dlq-none-'))).toEqual({ imported: 0, skipped: 0 });
    await s.close();
  });
});
