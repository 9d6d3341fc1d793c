/**
 * Contract of the store's run journal (src/store/journal.ts) on SQLite and PostgreSQL: records round-trip with their
 * steps in order; the write log keeps the latest state per key and a done write is final; an intent is committed
 * (visible to another connection) when recordWrites resolves; a running run whose owner is gone reads interrupted;
 * list is newest first with filters, and stays fast on thousands of runs.
 */
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import type { RunRecord } from '../../src/pipeline/index.js';
import { SqlJournal } from '../../src/store/journal.js';
import { backends } from './backends.js';

function record(runId: string, o: Partial<RunRecord> = {}): RunRecord {
  return {
    runId,
    pipeline: { name: 'p', file: 'p.yaml', hash: 'h', object: { name: 'p', steps: [] } },
    mode: 'full',
    confirmWrite: true,
    confirmDestructive: false,
    inputs: { tag: 'x' },
    now: 1,
    status: 'running',
    startedAt: new Date().toISOString(),
    steps: {},
    ...o,
  };
}

const step = (id: string, status: 'running' | 'done' = 'done') => ({
  id,
  status,
  items: 1,
  done: 1,
  existing: 0,
  failed: 0,
  requests: 1,
  method: 'crm.deal.add',
  risk: 'write' as const,
});

/** The pid of a process that has exited (its owner record is "gone"). */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
}

describe.each(backends('b24flow-journal'))('SqlJournal on $name', (b) => {
  it('round-trips a run with its steps in order, results and the latest write per key', async () => {
    const j = new SqlJournal(await b.open());
    const run = record('r1');
    await j.begin(run);
    expect(run.owner?.pid).toBe(process.pid);
    run.steps.b = step('b');
    run.steps.a = step('a', 'running');
    await j.update(run);
    run.steps.a.status = 'done';
    await j.update(run);
    await j.saveStepResult('r1', 'b', { rows: [1, 2] });
    await j.recordWrites('r1', [
      { key: 'a#1', step: 'a', state: 'intent', origin: 'o1', at: new Date().toISOString() },
      { key: 'a#2', step: 'a', state: 'intent', at: new Date().toISOString() },
    ]);
    await j.recordWrites('r1', [{ key: 'a#1', step: 'a', state: 'done', result: 17, at: new Date().toISOString() }]);
    // a later intent (a resume re-checking) never downgrades a done write
    await j.recordWrites('r1', [
      { key: 'a#1', step: 'a', state: 'intent', at: new Date().toISOString() },
      { key: 'a#2', step: 'a', state: 'failed', error: 'boom', at: new Date().toISOString() },
    ]);
    const got = await j.get('r1');
    expect(Object.keys(got!.steps)).toEqual(['b', 'a']);
    expect(got!.steps.a!.status).toBe('done');
    expect(got!.inputs).toEqual({ tag: 'x' });
    expect(got!.status).toBe('running');
    expect(await j.loadStepResult('r1', 'b')).toEqual({ rows: [1, 2] });
    await expect(j.loadStepResult('r1', 'a')).rejects.toThrow(/no saved result/);
    const w = await j.loadWrites('r1');
    expect(w.get('a#1')).toMatchObject({ state: 'done', result: 17, origin: 'o1' });
    expect(w.get('a#2')).toMatchObject({ state: 'failed', error: 'boom' });
    run.status = 'completed';
    run.finishedAt = new Date().toISOString();
    await j.update(run);
    expect((await j.get('r1'))!.status).toBe('completed');
    expect(await j.get('nope')).toBeUndefined();
  });

  it('an intent is committed when recordWrites resolves (another connection sees it)', async () => {
    const j = new SqlJournal(await b.open());
    const other = new SqlJournal(await b.open());
    await j.begin(record('r2'));
    await j.recordWrites('r2', [{ key: 's#k', step: 's', state: 'intent', at: new Date().toISOString() }]);
    expect((await other.loadWrites('r2')).get('s#k')?.state).toBe('intent');
  });

  it('a running run whose owner process is gone reads interrupted; one owned by a live process or another host does not', async () => {
    const j = new SqlJournal(await b.open());
    const dead = record('r3');
    await j.begin(dead);
    dead.owner = { host: hostname(), pid: deadPid() };
    await j.importRun({ ...dead, runId: 'r3x' }, new Map(), []);
    const elsewhere = { ...dead, runId: 'r3y', owner: { host: 'another-host', pid: 1 } };
    await j.importRun(elsewhere, new Map(), []);
    expect((await j.get('r3'))!.status).toBe('running');
    expect((await j.get('r3x'))!.status).toBe('interrupted');
    expect((await j.get('r3y'))!.status).toBe('running');
    const interrupted = await j.list({ status: 'interrupted' });
    expect(interrupted.map((r) => r.runId)).toContain('r3x');
    expect(interrupted.every((r) => r.status === 'interrupted')).toBe(true);
  });

  it('lists newest first, filtered, and stays fast with 5,000 runs', async () => {
    const store = await b.open();
    const j = new SqlJournal(store);
    const t0 = Date.UTC(2040, 0, 1); // newer than the runs of the other tests
    const rows = Array.from({ length: 5000 }, (_, i) => {
      const r = record(`bulk${String(i).padStart(5, '0')}`, {
        pipeline: { name: i % 2 ? 'odd' : 'even', hash: 'h', object: { big: 'x'.repeat(2000) } },
        status: i % 3 ? 'completed' : 'failed',
        startedAt: new Date(t0 + i * 1000).toISOString(),
        finishedAt: new Date(t0 + i * 1000 + 500).toISOString(),
        steps: { s1: step('s1'), s2: step('s2') },
      });
      return r;
    });
    // bulk-inserted as the journal writes them (row per run, row per step)
    for (let i = 0; i < rows.length; i += 200) {
      const part = rows.slice(i, i + 200);
      await store.db
        .insertInto('runs')
        .values(
          part.map(({ steps: _s, ...r }) => ({
            run_id: r.runId,
            pipeline: r.pipeline.name,
            status: r.status,
            mode: r.mode,
            owner_json: null,
            started_ms: Date.parse(r.startedAt),
            updated_ms: Date.parse(r.startedAt),
            finished_ms: Date.parse(r.finishedAt!),
            record_json: JSON.stringify(r),
          })),
        )
        .execute();
      await store.db
        .insertInto('run_steps')
        .values(
          part.flatMap((r) =>
            Object.values(r.steps).map((st, ord) => ({
              run_id: r.runId,
              step_id: st.id,
              ord,
              status: st.status,
              method: st.method ?? null,
              record_json: JSON.stringify(st),
            })),
          ),
        )
        .execute();
    }
    const t = performance.now();
    const page = await j.list({ limit: 50 });
    const ms = performance.now() - t;
    expect(page).toHaveLength(50);
    expect(page[0]!.runId).toBe('bulk04999');
    expect(Object.keys(page[0]!.steps)).toEqual(['s1', 's2']);
    const odd = await j.list({ limit: 10, pipeline: 'odd', status: 'failed' });
    expect(odd.every((r) => r.pipeline.name === 'odd' && r.status === 'failed')).toBe(true);
    expect(odd[0]!.runId).toBe('bulk04995');
    process.stdout.write(`[figure] ${b.name}: list({limit: 50}) of 5,000 runs in ${ms.toFixed(1)} ms\n`);
    expect(ms).toBeLessThan(1000);
  }, 120_000);
});
