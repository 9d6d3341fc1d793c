/**
 * FileJournal durability policy on a real directory: only write intents (and the end of a run) are fsynced; the
 * run record and step results reach the disk with the next intent, so a killed run's record and results agree.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FileJournal, type RunRecord } from '../../src/pipeline/journal.js';

const dir = mkdtempSync(join(tmpdir(), 'b24flow-journal-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function fileHandleProto(): Promise<{ sync(): Promise<void> }> {
  const fh = await open(join(dir, 'probe'), 'w');
  await fh.close();
  return Object.getPrototypeOf(fh);
}

const record = (runId: string, steps: RunRecord['steps'] = {}): RunRecord => ({
  runId,
  pipeline: { name: 'p', hash: 'h', object: { name: 'p', steps: [] } },
  mode: 'full',
  confirmWrite: true,
  confirmDestructive: false,
  inputs: {},
  now: 0,
  status: 'running',
  startedAt: new Date().toISOString(),
  steps,
});
const step = (id: string, status: 'done' | 'running') => ({
  id,
  status,
  items: 1,
  done: 1,
  existing: 0,
  failed: 0,
  requests: 1,
  hasResult: true,
});
const at = new Date().toISOString();

describe('FileJournal', () => {
  afterEach(() => vi.restoreAllMocks());

  it('fsyncs once per write-intent batch and once at the end, never for reads, outcomes or progress', async () => {
    const proto = await fileHandleProto();
    const sync = vi.spyOn(proto, 'sync');
    const j = new FileJournal(join(dir, 'runs'));
    const run = record('r1');
    await j.begin(run);
    await j.saveStepResult('r1', 'deals', [{ ID: 1 }]);
    run.steps.deals = step('deals', 'done');
    await j.update(run);
    expect(sync).toHaveBeenCalledTimes(0);
    await j.recordWrites('r1', [{ key: 'lead#0', step: 'lead', state: 'intent', at }]);
    expect(sync).toHaveBeenCalledTimes(1);
    await j.recordWrites('r1', [{ key: 'lead#0', step: 'lead', state: 'done', result: 7, at }]);
    await j.saveStepResult('r1', 'lead', 7);
    run.steps.lead = step('lead', 'done');
    await j.update(run);
    expect(sync).toHaveBeenCalledTimes(1);
    run.status = 'completed';
    await j.update(run);
    expect(sync).toHaveBeenCalledTimes(2);
    expect((await j.get('r1'))!.status).toBe('completed');
    expect((await j.loadWrites('r1')).get('lead#0')!.state).toBe('done');
  });

  it('a killed run comes back as of its last write intent, with the step results logged with it', async () => {
    const j = new FileJournal(join(dir, 'runs'));
    const run = record('r2');
    await j.begin(run);
    await j.saveStepResult('r2', 'deals', [{ ID: 1 }, { ID: 2 }]);
    run.steps.deals = step('deals', 'done');
    await j.update(run);
    await j.recordWrites('r2', [{ key: 'task#0', step: 'task', state: 'intent', at }]);
    await j.recordWrites('r2', [{ key: 'task#0', step: 'task', state: 'done', result: 1, at }]);
    // finished after the last intent, then the process dies: only memory knew about it
    await j.saveStepResult('r2', 'report', 'x');
    run.steps.report = step('report', 'done');
    await j.update(run);

    const after = new FileJournal(join(dir, 'runs')); // a new process
    const rec = (await after.get('r2'))!;
    expect(rec.status).toBe('running');
    expect(Object.keys(rec.steps)).toEqual(['deals']);
    expect(await after.loadStepResult('r2', 'deals')).toEqual([{ ID: 1 }, { ID: 2 }]);
    await expect(after.loadStepResult('r2', 'report')).rejects.toThrow();
    expect((await after.loadWrites('r2')).get('task#0')!.state).toBe('done');
    // run.json on disk is the start record; the log holds the newer copy
    expect(JSON.parse(readFileSync(join(dir, 'runs', 'r2', 'run.json'), 'utf8')).steps).toEqual({});
  });

  it('a run that ends unfinished logs its pending results durably before its final record', async () => {
    const j = new FileJournal(join(dir, 'runs'));
    const run = record('r3');
    await j.begin(run);
    await j.saveStepResult('r3', 'deals', [1]);
    run.steps.deals = step('deals', 'done');
    run.status = 'failed';
    await j.update(run);
    const after = new FileJournal(join(dir, 'runs'));
    expect((await after.get('r3'))!.status).toBe('failed');
    expect(await after.loadStepResult('r3', 'deals')).toEqual([1]);
  });
});
