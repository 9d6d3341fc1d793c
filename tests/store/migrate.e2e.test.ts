/**
 * `b24flow migrate` (real CLI) imports a data dir written in the old file layout — runs/<id>/{run.json,
 * writes.jsonl, steps/}, plans/<id>.json (+ .used) with plan-key, idempotency/<hash>.jsonl — into the store:
 * `runs` and `runs show` then read them from the store, plans keep their seal and single use, keys are known.
 * Running it again imports nothing; the files are left in place.
 */

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { newPlanKey, type Plan, type StoredPlan, sealedPlanId } from '../../src/pipeline/index.js';
import { SqlIdempotencyStore } from '../../src/store/idempotency.js';
import { IMPORTERS } from '../../src/store/import/index.js';
import { openStore } from '../../src/store/index.js';
import { SqlPlanStore } from '../../src/store/plans.js';
import { cli } from '../pipeline/helpers.js';
import { testDir } from '../support/testRoot.js';

const iso = (ms: number) => new Date(ms).toISOString();

/** A data dir as the file stores wrote it before the store existed. */
function oldLayout(dir: string) {
  const t = Date.UTC(2026, 10, 1, 10, 0, 0);
  const stepRec = (id: string, status: string, done: number) => ({
    id,
    method: 'crm.deal.add',
    status,
    risk: 'write',
    items: 2,
    done,
    existing: 0,
    failed: 0,
    requests: 1,
  });
  const base = {
    pipeline: { name: 'old-pipeline', file: 'old.yaml', hash: 'h', object: { name: 'old-pipeline', steps: [] } },
    mode: 'full',
    confirmWrite: true,
    confirmDestructive: false,
    inputs: { tag: 'x' },
    now: t,
  };
  // a finished run: run.json (final), writes.jsonl with intents, outcomes and a result line
  const done = join(dir, 'runs', 'r-old-done');
  mkdirSync(done, { recursive: true });
  writeFileSync(
    join(done, 'run.json'),
    JSON.stringify({
      ...base,
      runId: 'r-old-done',
      status: 'completed',
      startedAt: iso(t),
      finishedAt: iso(t + 5000),
      steps: {
        list: { ...stepRec('list', 'done', 1), risk: 'read', method: 'crm.deal.list' },
        add: stepRec('add', 'done', 2),
      },
      summary: { en: ['Created 2 deals.'], ru: ['Создано 2 сделки.'] },
    }),
  );
  writeFileSync(
    join(done, 'writes.jsonl'),
    [
      { result: 'list', value: [{ ID: '1' }] },
      { key: 'add#a', step: 'add', state: 'intent', origin: 'b24flow-1', at: iso(t + 1000) },
      { key: 'add#b', step: 'add', state: 'intent', at: iso(t + 1000) },
      { key: 'add#a', step: 'add', state: 'done', result: 101, at: iso(t + 2000) },
      { key: 'add#b', step: 'add', state: 'done', result: 102, at: iso(t + 2000) },
      { key: 'add#a', step: 'add', state: 'intent', at: iso(t + 3000) }, // a re-check never downgrades done
    ]
      .map((x) => JSON.stringify(x))
      .join('\n')
      .concat('\n{"key":"torn'),
  );
  // a killed run: run.json says running (written at the start), the log has a newer record copy; an older journal
  // kept a step result in steps/<step>.json
  const killed = join(dir, 'runs', 'r-old-killed');
  mkdirSync(join(killed, 'steps'), { recursive: true });
  const killedRec = { ...base, runId: 'r-old-killed', status: 'running', startedAt: iso(t + 60_000) };
  writeFileSync(
    join(killed, 'run.json'),
    JSON.stringify({ ...killedRec, steps: {}, owner: { host: 'gone-host.invalid', pid: 1 } }),
  );
  writeFileSync(join(killed, 'steps', 'list.json'), JSON.stringify([{ ID: '7' }]));
  writeFileSync(
    join(killed, 'writes.jsonl'),
    `${[
      { run: { ...killedRec, steps: { list: stepRec('list', 'done', 1), add: stepRec('add', 'running', 0) } } },
      { key: 'add#a', step: 'add', state: 'intent', origin: 'b24flow-9', at: iso(t + 61_000) },
    ]
      .map((x) => JSON.stringify(x))
      .join('\n')}\n`,
  );
  mkdirSync(join(dir, 'runs', 'not-a-run'), { recursive: true }); // no record: skipped

  // plans sealed with the data dir's plan-key; one used
  const key = newPlanKey();
  writeFileSync(join(dir, 'plan-key'), key, { mode: 0o600 });
  mkdirSync(join(dir, 'plans'), { recursive: true });
  const plans: string[] = [];
  for (const n of [1, 2]) {
    const plan = {
      id: '',
      pipeline: { name: 'old-pipeline', hash: 'h' },
      createdAt: iso(Date.now()),
      expiresAt: iso(Date.now() + 3_600_000),
      writes: [],
      risk: 'none',
      riskFields: [],
      cost: { text: '' },
      stateHash: `s${n}`,
      checks: [],
      inputs: { n },
      now: t,
    } as unknown as Plan;
    const stored: StoredPlan = { plan, pipeline: base.pipeline.object, file: 'old.yaml', nonce: `${n}`.repeat(32) };
    plan.id = sealedPlanId(key, stored);
    writeFileSync(join(dir, 'plans', `${plan.id}.json`), JSON.stringify(stored));
    plans.push(plan.id);
  }
  writeFileSync(join(dir, 'plans', `${plans[1]}.used`), iso(Date.now()));

  // idempotency keys of one scope (+ a torn last line)
  mkdirSync(join(dir, 'idempotency'), { recursive: true });
  const scope = 'portal|old-pipeline|add';
  writeFileSync(
    join(dir, 'idempotency', `${createHash('sha256').update(scope).digest('hex').slice(0, 32)}.jsonl`),
    `${[
      { key: 'a', result: 101, scope, at: iso(t) },
      { key: 'b', result: 102, scope, at: iso(t) },
    ]
      .map((x) => JSON.stringify(x))
      .join('\n')}\n{"key":`,
  );
  return { plans, scope };
}

describe('b24flow migrate', () => {
  it('imports an old data dir once, leaves the files, and the store then answers for them', async () => {
    const dir = testDir('b24flow-migrate-');
    const { plans, scope } = oldLayout(dir);
    const env = { ...process.env, B24FLOW_DATA_DIR: dir, B24FLOW_DATABASE_URL: '' };

    const first = await cli(['migrate'], env);
    expect(first.stderr + first.code).toBe('0');
    expect(first.stdout).toMatch(/runs\s+2 imported,\s+1 skipped/);
    expect(first.stdout).toMatch(/plans\s+2 imported,\s+0 skipped/);
    expect(first.stdout).toMatch(/idempotency keys\s+2 imported,\s+0 skipped/);
    expect(first.stdout).toContain('The files were left in place');
    expect(existsSync(join(dir, 'runs', 'r-old-done', 'writes.jsonl'))).toBe(true);

    const again = JSON.parse((await cli(['migrate', '--json'], env)).stdout) as {
      results: { name: string; imported: number }[];
    };
    // every importer ran again and imported nothing new
    expect(again.results.map((r) => r.name)).toEqual(IMPORTERS.map((i) => i.name));
    expect(again.results.every((r) => r.imported === 0)).toBe(true);

    const runs = JSON.parse((await cli(['runs', '--json'], env)).stdout) as { runId: string; status: string }[];
    expect(runs.map((r) => [r.runId, r.status])).toEqual([
      ['r-old-killed', 'running'], // its owner is on another host: cannot be seen from here
      ['r-old-done', 'completed'],
    ]);
    const shown = JSON.parse((await cli(['runs', 'show', 'r-old-done', '--json'], env)).stdout) as {
      run: { steps: Record<string, { status: string }>; summary: { en: string[] } };
      writes: { key: string; state: string; result?: unknown; origin?: string }[];
    };
    expect(Object.keys(shown.run.steps)).toEqual(['list', 'add']);
    expect(shown.run.summary.en).toEqual(['Created 2 deals.']);
    expect(shown.writes.map((w) => [w.key, w.state, w.result]).sort()).toEqual([
      ['add#a', 'done', 101],
      ['add#b', 'done', 102],
    ]);
    const killed = JSON.parse((await cli(['runs', 'show', 'r-old-killed', '--json'], env)).stdout) as {
      run: { steps: Record<string, { status: string }> };
      writes: { key: string; state: string; origin?: string }[];
    };
    // the newest record (the log's copy), and the write in flight as an intent with its marker
    expect(killed.run.steps.add!.status).toBe('running');
    expect(killed.writes).toEqual([expect.objectContaining({ key: 'add#a', state: 'intent', origin: 'b24flow-9' })]);

    const store = await openStore({ dataDir: dir });
    try {
      const { SqlJournal } = await import('../../src/store/journal.js');
      const j = new SqlJournal(store);
      expect(await j.loadStepResult('r-old-done', 'list')).toEqual([{ ID: '1' }]);
      expect(await j.loadStepResult('r-old-killed', 'list')).toEqual([{ ID: '7' }]);
      const ps = new SqlPlanStore(store);
      for (const id of plans) expect(await ps.verify(id, (await ps.get(id))!)).toBe(true);
      expect(await ps.isUsed(plans[0]!)).toBe(false);
      expect(await ps.isUsed(plans[1]!)).toBe(true);
      expect(await new SqlIdempotencyStore(store).load(scope)).toEqual(
        new Map([
          ['a', 101],
          ['b', 102],
        ]),
      );
    } finally {
      await store.close();
    }
  });
});
