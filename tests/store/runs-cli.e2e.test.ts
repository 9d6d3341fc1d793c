/**
 * Run history, retention and concurrency through the real CLI (child processes) against a sandbox portal, on the
 * default SQLite store in the data dir (and on PostgreSQL when `B24FLOW_TEST_DATABASE_URL` is set):
 * - `runs` and `runs show <id>` show a run's steps and writes from the store;
 * - `gc` deletes old finished runs (with their steps and writes), old keys, used and expired plans, and keeps
 *   recent and running runs;
 * - two processes applying the same plan at once: exactly one applies;
 * - the same keyed pipeline started by two processes at once on one store: every write happens once.
 */
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { all, cli, startPortal, type TestPortal } from '../pipeline/helpers.js';
import { freshDatabase, postgresUrl } from '../support/postgres.js';

type Backend = { name: string; env: () => Promise<Record<string, string>> };
const backendsUnderTest: Backend[] = [{ name: 'sqlite', env: async () => ({}) }];
let pg: ReturnType<typeof freshDatabase> | undefined;
if (postgresUrl)
  backendsUnderTest.push({
    name: 'postgres',
    env: async () => {
      pg ??= freshDatabase();
      return { B24FLOW_DATABASE_URL: (await pg).url };
    },
  });

afterAll(async () => {
  await (await pg)?.drop();
});

describe.each(backendsUnderTest)('runs in the store ($name)', (b) => {
  let p: TestPortal;
  let env: NodeJS.ProcessEnv;
  let store: Store;
  beforeAll(async () => {
    p = await startPortal({ size: 5 });
    env = { ...p.env, ...(await b.env()) };
    store = await openStore({
      dataDir: p.dataDir,
      ...(env.B24FLOW_DATABASE_URL ? { url: env.B24FLOW_DATABASE_URL } : {}),
    });
  });
  afterAll(async () => {
    await store?.close();
    await p?.close();
  });

  const titles = async (tag: string) =>
    (await all<{ TITLE: string }>(p.client, 'crm.deal.list', { select: ['ID', 'TITLE'] }))
      .map((r) => r.TITLE)
      .filter((t) => t.startsWith(`${tag} deal `));
  const adds = async () => (await p.sb.admin.stats()).writes['crm.deal.add'] ?? 0;

  it('runs and runs show <id> show the run, its steps and its writes', async () => {
    const r = await cli(
      ['run', 'tests/fixtures/pipelines/bulk-create.yaml', '--mode', 'full', '--confirm-write', '--verbose'].concat([
        '--input',
        'n=3',
        '--input',
        'tag=shown',
      ]),
      env,
    );
    expect(r.stderr + r.code).toBe('0');
    const runId = /\(run ([\w-]+)\)/.exec(r.stdout)?.[1];
    expect(runId).toBeDefined();
    const list = JSON.parse((await cli(['runs', '--json'], env)).stdout) as {
      runId: string;
      status: string;
      pipeline: string;
      steps: { id: string; status: string; done: number; failed: number }[];
    }[];
    const row = list.find((x) => x.runId === runId)!;
    expect(row).toMatchObject({ status: 'completed', pipeline: 'bulk-create' });
    expect(row.steps).toEqual([{ id: 'create', status: 'done', done: 3, failed: 0 }]);
    expect((await cli(['runs'], env)).stdout).toMatch(new RegExp(`${runId}.*bulk-create.*completed\\s+3 writes`));

    const shown = JSON.parse((await cli(['runs', 'show', runId!, '--json'], env)).stdout) as {
      run: { runId: string; status: string; steps: Record<string, { method: string; done: number }> };
      writes: { key: string; state: string; result: unknown }[];
    };
    expect(shown.run).toMatchObject({ runId, status: 'completed' });
    expect(shown.run.steps.create).toMatchObject({ method: 'crm.deal.add', done: 3 });
    expect(shown.writes.map((w) => [w.key, w.state]).sort()).toEqual([
      ['create#shown-0', 'done'],
      ['create#shown-1', 'done'],
      ['create#shown-2', 'done'],
    ]);
    expect(shown.writes.every((w) => Number(w.result) > 0)).toBe(true);
    const text = (await cli(['runs', 'show', runId!], env)).stdout;
    expect(text).toContain(`Run ${runId}: bulk-create`);
    expect(text).toMatch(/create\s+crm\.deal\.add\s+done\s+3 done/);
    expect(text).toMatch(/create#shown-2\s+done\s+\d+/);
    const unknown = await cli(['runs', 'show', 'r-nope'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown run "r-nope"');
  });

  it('the same keyed pipeline started by two processes at once writes each key once', async () => {
    const before = await adds();
    // one request per write: the two runs overlap for long enough that, without claims, both would send keys
    const args = [
      'run',
      'tests/fixtures/pipelines/bulk-create.yaml',
      '--mode',
      'full',
      '--confirm-write',
      '--json',
      '--no-batching',
    ];
    const [one, two] = await Promise.all([
      cli([...args, '--input', 'n=150', '--input', 'tag=twice'], env, { timeoutMs: 120_000 }),
      cli([...args, '--input', 'n=150', '--input', 'tag=twice'], env, { timeoutMs: 120_000 }),
    ]);
    expect(one.stderr + one.code).toBe('0');
    expect(two.stderr + two.code).toBe('0');
    const results = [one, two].map(
      (r) => JSON.parse(r.stdout) as { status: string; steps: { done: number; existing: number }[] },
    );
    expect(results.map((r) => r.status)).toEqual(['completed', 'completed']);
    // between them the two runs sent 150 writes; what one sent, the other found existing
    expect(results[0]!.steps[0]!.done + results[1]!.steps[0]!.done).toBe(150);
    for (const r of results) expect(r.steps[0]!.done + r.steps[0]!.existing).toBe(150);
    const got = await titles('twice');
    expect(got).toHaveLength(150);
    expect(new Set(got).size).toBe(150);
    expect((await adds()) - before).toBe(150);
  }, 180_000);

  it('two processes applying the same plan at once: exactly one applies', async () => {
    const planned = await cli(
      ['plan', 'tests/fixtures/pipelines/bulk-create.yaml', '--input', 'n=4', '--input', 'tag=applied', '--json'],
      env,
    );
    expect(planned.stderr + planned.code).toBe('0');
    const { id } = JSON.parse(planned.stdout) as { id: string };
    const before = await adds();
    const results = await Promise.all([0, 1, 2].map(() => cli(['apply', id, '--confirm-write'], env)));
    expect(results.map((r) => r.code).sort()).toEqual([0, 2, 2]);
    for (const r of results.filter((x) => x.code === 2)) expect(r.stderr).toContain(`plan ${id} was already used`);
    expect(await titles('applied')).toHaveLength(4);
    expect((await adds()) - before).toBe(4);
  }, 120_000);

  it('gc deletes old finished runs with their steps and writes, old keys, used and expired plans; keeps recent and running runs', async () => {
    const day = 86_400_000;
    const now = Date.now();
    const old = now - 40 * day;
    const run = (id: string, status: string, finished: number | null, owner: object | null) => ({
      run_id: id,
      pipeline: 'gc-test',
      status,
      mode: 'full',
      owner_json: owner ? JSON.stringify(owner) : null,
      started_ms: (finished ?? old) - 1000,
      updated_ms: finished ?? old,
      finished_ms: finished,
      record_json: JSON.stringify({
        runId: id,
        pipeline: { name: 'gc-test', hash: 'h', object: {} },
        mode: 'full',
        status,
        startedAt: new Date((finished ?? old) - 1000).toISOString(),
        inputs: {},
        now: 1,
        confirmWrite: true,
        confirmDestructive: false,
      }),
    });
    await store.db
      .insertInto('runs')
      .values([
        run('gc-old-done', 'completed', old, null),
        run('gc-old-failed', 'failed', old, null),
        run('gc-recent', 'completed', now - day, null),
        // running (its owner, this test process, is alive) for 40 days: kept
        run('gc-old-running', 'running', null, { host: hostname(), pid: process.pid }),
      ])
      .execute();
    await store.db
      .insertInto('run_steps')
      .values({ run_id: 'gc-old-done', step_id: 's', ord: 0, status: 'done', method: null, record_json: '{"id":"s"}' })
      .execute();
    await store.db
      .insertInto('run_writes')
      .values({
        run_id: 'gc-old-done',
        write_key: 's#1',
        step_id: 's',
        state: 'done',
        result_json: '1',
        error: null,
        origin: null,
        at_ms: old,
      })
      .execute();
    await store.db
      .insertInto('idempotency')
      .values([
        { scope: 'gc', idem_key: 'old', state: 'done', holder: null, result_json: '1', at_ms: old },
        { scope: 'gc', idem_key: 'new', state: 'done', holder: null, result_json: '2', at_ms: now },
      ])
      .execute();
    await store.db
      .insertInto('processed_events')
      .values([
        { event_key: 'gc-old', at_ms: old },
        { event_key: 'gc-new', at_ms: now },
      ])
      .execute();
    await store.db
      .insertInto('plans')
      .values([
        { plan_id: 'pexpired0', body_json: '{}', created_ms: old, expires_ms: old + 1000, used_ms: null },
        { plan_id: 'pused0000', body_json: '{}', created_ms: now, expires_ms: now + day, used_ms: now },
        { plan_id: 'pfresh000', body_json: '{}', created_ms: now, expires_ms: now + day, used_ms: null },
      ])
      .execute();
    const usedBefore = await store.db.selectFrom('plans').select('plan_id').where('used_ms', 'is not', null).execute();

    const r = await cli(['gc', '--json'], { ...env, B24FLOW_RETENTION_DAYS: '30', B24FLOW_KEYS_RETENTION_DAYS: '30' });
    expect(r.stderr + r.code).toBe('0');
    const counts = JSON.parse(r.stdout) as Record<string, number>;
    expect(counts).toMatchObject({ runs: 2, idempotency: 1, processedEvents: 1, runsDays: 30, keysDays: 30 });
    // the expired plan and every used one (the applied plan of the test before included)
    expect(counts.plans).toBe(1 + usedBefore.length);
    const ids = (await store.db.selectFrom('runs').select('run_id').where('pipeline', '=', 'gc-test').execute())
      .map((x) => x.run_id)
      .sort();
    expect(ids).toEqual(['gc-old-running', 'gc-recent']);
    expect(await store.db.selectFrom('run_steps').selectAll().where('run_id', '=', 'gc-old-done').execute()).toEqual(
      [],
    );
    expect(await store.db.selectFrom('run_writes').selectAll().where('run_id', '=', 'gc-old-done').execute()).toEqual(
      [],
    );
    expect(
      (await store.db.selectFrom('idempotency').select('idem_key').where('scope', '=', 'gc').execute()).map(
        (x) => x.idem_key,
      ),
    ).toEqual(['new']);
    expect(
      (await store.db.selectFrom('plans').select('plan_id').execute()).map((x) => x.plan_id).includes('pfresh000'),
    ).toBe(true);
    // the runs of the earlier tests (recent) are still listed
    expect((JSON.parse((await cli(['runs', '--json'], env)).stdout) as unknown[]).length).toBeGreaterThan(2);
    const text = await cli(['gc'], env);
    expect(text.stdout).toMatch(/^Deleted 0 run\(s\) finished more than 30 day\(s\) ago/);
    const bad = await cli(['gc'], { ...env, B24FLOW_RETENTION_DAYS: 'soon' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('B24FLOW_RETENTION_DAYS must be a number of days');
  });
});
