/**
 * "Never writes twice" against the sandbox over HTTP (the real CLI): a create whose answer was lost is reconciled
 * with the portal per its catalog `reconcile` strategy before anything is resent, the same keyed pipeline run from
 * two data folders creates each record once, and a create that cannot be found (`none`) leaves its step
 * `uncertain` instead of being resent.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { formatDateTime } from '../../src/pipeline/expr.js';
import { testDir } from '../support/testRoot.js';
import { all, cli, startPortal, type TestPortal } from './helpers.js';

let p: TestPortal | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

const run = (env: NodeJS.ProcessEnv, ...args: string[]) =>
  cli(['run', 'pipelines/stale-deals.yaml', '--mode', 'full', '--confirm-write', ...args], env);

/** Stale open deals, and per deal the follow-up tasks and the stale comments the portal holds. */
async function portalState(tp: TestPortal) {
  const cutoff = formatDateTime(new Date(Date.now() - 14 * 86_400_000), 'UTC');
  const stale = await all<{ ID: string; TITLE: string }>(tp.client, 'crm.deal.list', {
    filter: { '<DATE_MODIFY': cutoff, CLOSED: 'N' },
    select: ['ID', 'TITLE'],
  });
  const tasks = await all<Record<string, string>>(tp.client, 'tasks.task.list', { select: ['ID', 'TITLE'] });
  const comments = await all<{ ENTITY_ID: string; COMMENT: string }>(tp.client, 'crm.timeline.comment.list', {
    filter: { ENTITY_TYPE: 'deal' },
    select: ['ID', 'ENTITY_ID', 'COMMENT'],
  });
  const taskTitles = tasks.map((t) => t.title ?? t.TITLE);
  const followUps = taskTitles.filter((t) => t?.startsWith('Follow up the deal'));
  const staleComments = comments.filter((c) => c.COMMENT.startsWith('No changes for 14+'));
  const perDeal = stale.map((d) => ({
    tasks: taskTitles.filter((t) => t === `Follow up the deal «${d.TITLE}»`).length,
    comments: staleComments.filter((c) => String(c.ENTITY_ID) === String(d.ID)).length,
  }));
  return { stale, followUps: followUps.length, comments: staleComments.length, perDeal };
}

const runIdOf = (out: string) => /\(run ([\w-]+)\)/.exec(out)?.[1];

describe('a lost answer is reconciled with the portal, never resent blindly', () => {
  it('stale-deals: answers lost in the task and the comment fan-out, resumed → one task and one comment per deal', async () => {
    p = await startPortal({ size: 60, seed: 7 });
    const before = await portalState(p);
    const n = before.stale.length;
    expect(n).toBeGreaterThan(1);
    expect(before.followUps).toBe(0);

    // the task batch runs on the portal, its answer is lost
    await p.sb.admin.faults({ method: 'tasks.task.add', kind: 'lost-answer', count: 1 });
    const first = await run(p.env);
    expect(first.stdout).toContain(`${n} not confirmed by the portal (task): answer lost`);
    expect(first.stdout).not.toContain(`Created ${n} task`);
    expect(first.stdout).toMatch(/resume the run \(b24flow resume [\w-]+\)/);
    const runId = runIdOf(first.stdout)!;
    expect(runId).toBeTruthy();
    expect((await portalState(p)).followUps).toBe(n);

    // resume: the tasks are found (not created again); the comment batch's answer is lost in turn
    await p.sb.admin.faults({ method: 'crm.timeline.comment.add', kind: 'lost-answer', count: 1 });
    const second = await cli(['resume', runId], p.env);
    // the lost tasks are found on the portal: counted as this run's (not resent, not "skipped")
    expect(second.stdout).toContain(`Created ${n} tasks (${n} of them before the run was resumed)`);
    expect(second.stdout).toContain(`${n} not confirmed by the portal (timeline_comment): answer lost`);
    const mid = await portalState(p);
    expect(mid.followUps).toBe(n);
    expect(mid.comments).toBe(n);

    // resume again: the comments are found too; nothing is created, the portal holds one of each per deal
    const third = await cli(['resume', runId], p.env);
    expect(third.code).toBe(0);
    expect(third.stdout).toContain(`Created ${n} tasks (${n} of them before the run was resumed)`);
    expect(third.stdout).toMatch(
      new RegExp(`Created ${n} timeline comments? \\(${n} of them before the run was resumed\\)`),
    );
    expect(third.stdout).not.toContain('already done earlier');
    expect(third.stdout).toContain('Done.');
    const after = await portalState(p);
    expect(after.followUps).toBe(n);
    expect(after.comments).toBe(n);
    for (const d of after.perDeal) expect(d).toEqual({ tasks: 1, comments: 1 });
  });

  it('the same keyed pipeline from two data folders creates each record once', async () => {
    p = await startPortal({ size: 60, seed: 7 });
    const n = (await portalState(p)).stale.length;
    const a = await run({ ...p.env, B24FLOW_DATA_DIR: testDir('b24flow-folder-a-') });
    expect(a.code).toBe(0);
    expect(a.stdout).toContain(`Created ${n} task`);
    const b = await run({ ...p.env, B24FLOW_DATA_DIR: testDir('b24flow-folder-b-') });
    expect(b.code).toBe(0);
    expect(b.stdout).not.toMatch(/Created \d+/);
    expect(b.stdout).toContain(`${n} already done earlier (skipped)`);
    const after = await portalState(p);
    expect(after.followUps).toBe(n);
    expect(after.comments).toBe(n);
    for (const d of after.perDeal) expect(d).toEqual({ tasks: 1, comments: 1 });
  });

  it('a `none` create whose answer was lost ends uncertain and is not resent', async () => {
    p = await startPortal({ size: 5 });
    const file = join(testDir('b24flow-none-'), 'notify.yaml');
    writeFileSync(
      file,
      `name: notify-once
packs: [comms]
steps:
  - id: notify
    foreach: \${{ [1, 2, 3] }}
    method: im.notify.system.add
    idempotency_key: \${{ "notify-" + string(item) }}
    params:
      USER_ID: 1
      MESSAGE: \${{ "hello " + string(item) }}
`,
    );
    await p.sb.admin.faults({ method: 'im.notify.system.add', kind: 'lost-answer', count: 1 });
    const r = await cli(['run', file, '--mode', 'full', '--confirm-write', '--verbose'], p.env);
    const sent = () => p!.sb.admin.stats().then((s) => s.writes['im.notify.system.add'] ?? 0);
    expect(await sent()).toBe(3);
    expect(r.stdout).toContain('3 not confirmed by the portal');
    expect(r.stdout).toContain('step "notify"');
    expect(r.stdout).toContain('they were not resent');
    expect(r.stdout).toContain('Done in part.');
    const runId = runIdOf(r.stdout)!;
    const runs = JSON.parse((await cli(['runs', '--json'], p.env)).stdout) as {
      runId: string;
      steps?: Record<string, { status: string }>;
    }[];
    expect(runs.find((x) => x.runId === runId)).toBeTruthy();
    // a resume does not resend them either: still uncertain
    const again = await cli(['resume', runId], p.env);
    expect(again.stdout).toContain('3 not confirmed by the portal');
    expect(await sent()).toBe(3);
  });
});
