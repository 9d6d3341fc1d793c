/**
 * REST 3.0 in a pipeline over real HTTP (the real CLI against the sandbox): `tasks.task.add` goes over `/rest/api/`
 * with an Idempotency-Key per task; a lost answer is replayed under the same key (one record); a portal without
 * REST 3.0 makes the first call fall back to REST 2 and the rest go straight to REST 2, in later processes too (the
 * fallback is remembered in the store).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { all, cli, startPortal, type TestPortal } from './helpers.js';

let p: TestPortal | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

interface Stats {
  requests: number;
  byMethod: Record<string, number>;
  writes: Record<string, number>;
  v3: { requests: number; keyed: number; byMethod: Record<string, number> };
}
const stats = async (tp: TestPortal) => (await tp.sb.admin.stats()) as unknown as Stats;
const run = (tp: TestPortal, ...args: string[]) =>
  cli(['run', 'tests/fixtures/pipelines/v3-tasks.yaml', '--mode', 'full', '--confirm-write', ...args], tp.env);
const titles = async (tp: TestPortal, tag: string) =>
  (await all<Record<string, string>>(tp.client, 'tasks.task.list', { select: ['ID', 'TITLE'] }))
    .map((t) => t.title ?? t.TITLE)
    .filter((t) => t?.startsWith(`${tag} task`));

describe('REST 3.0 in a pipeline', () => {
  it('tasks.task.add goes over /rest/api/ with an Idempotency-Key: a REST 3.0 batch, or a single call', async () => {
    p = await startPortal({ size: 5 });
    await p.sb.admin.resetStats();
    const r = await run(p);
    expect(r.stderr + r.code).toMatch(/0$/);
    expect(r.stdout).toContain('Created 5 tasks');
    const s = await stats(p);
    // the five creates in one REST 3.0 batch with one key (the REST 2 batch is the keyed step's reconcile read)
    expect(s.v3.byMethod).toEqual({ batch: 1 });
    expect(s.v3.keyed).toBe(1);
    expect(s.byMethod['tasks.task.add'] ?? 0).toBe(0);
    expect(s.writes['tasks.task.add']).toBe(5);
    expect((await titles(p, 'v3')).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `v3 task ${i}`).sort());
    // a lone create goes as one REST 3.0 call with its key
    await p.sb.admin.resetStats();
    const one = await run(p, '--input', 'n=1', '--input', 'tag=one');
    expect(one.stderr + one.code).toMatch(/0$/);
    const s1 = await stats(p);
    expect(s1.v3.byMethod['tasks.task.add']).toBe(1);
    expect(s1.v3.keyed).toBe(1); // (its reconcile read, a lone tasks.task.list, went over REST 3.0 without a key)
  });

  it('a lost answer of a v3 write is resent under the same key and replayed: one record', async () => {
    p = await startPortal({ size: 5 });
    await p.sb.admin.resetStats();
    await p.sb.admin.faults({ method: 'tasks.task.add', kind: 'lost-answer', count: 1 });
    const r = await run(p, '--input', 'tag=lost');
    expect(r.stderr + r.code).toMatch(/0$/);
    expect(r.stdout).toContain('Created 5 tasks');
    const s = await stats(p);
    expect(s.v3.byMethod).toEqual({ batch: 2 }); // the lost one was sent twice, with the same key
    expect(s.v3.keyed).toBe(2);
    expect(s.writes['tasks.task.add']).toBe(5); // and ran once
    expect(await titles(p, 'lost')).toHaveLength(5);
  });

  it('a portal without REST 3.0: the first call falls back to REST 2, the rest go straight to REST 2', async () => {
    p = await startPortal({ size: 5, restV3: false });
    await p.sb.admin.resetStats();
    const r = await run(p, '--input', 'tag=v2', '--input', 'n=120');
    expect(r.stderr + r.code).toMatch(/0$/);
    expect(r.stdout).toContain('Created 120 tasks');
    const s = await stats(p);
    expect(s.v3.requests).toBe(1); // the first REST 3.0 batch, refused: nothing ran
    expect(s.writes['tasks.task.add']).toBe(120); // then 3 REST 2 batches (50 + 50 + 20)
    expect(await titles(p, 'v2')).toHaveLength(120);
    // the fallback is remembered in the store: the next process goes straight to REST 2
    await p.sb.admin.resetStats();
    const again = await run(p, '--input', 'tag=v2b', '--input', 'n=60');
    expect(again.stderr + again.code).toMatch(/0$/);
    const s2 = await stats(p);
    expect(s2.v3.requests).toBe(0);
    expect(s2.writes['tasks.task.add']).toBe(60);
  });
});
