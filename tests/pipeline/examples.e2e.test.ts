/**
 * Every example pipeline runs as the real CLI against a sandbox portal over HTTP; the CRM state is asserted after.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDateTime } from '../../src/pipeline/expr.js';
import { all, appEnv, cli, startPortal, type TestPortal } from './helpers.js';

let p: TestPortal;
beforeAll(async () => {
  p = await startPortal({ size: 60, seed: 7 });
});
afterAll(async () => {
  await p?.close();
});

const run = (file: string, ...args: string[]) =>
  cli(['run', `pipelines/${file}.yaml`, '--mode', 'full', '--confirm-write', ...args], p.env);

describe('example pipelines against the sandbox', () => {
  it('stale-deals: a task and a timeline comment for every stale open deal', async () => {
    const cutoff = formatDateTime(new Date(Date.now() - 14 * 86_400_000), 'UTC');
    const stale = await all(p.client, 'crm.deal.list', {
      filter: { '<DATE_MODIFY': cutoff, CLOSED: 'N' },
      select: ['ID', 'TITLE'],
    });
    expect(stale.length).toBeGreaterThan(0);
    const tasksBefore = await all(p.client, 'tasks.task.list', { select: ['ID', 'TITLE'] });
    const r = await run('stale-deals');
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`task: ${stale.length} to create`);
    expect(r.stdout).toContain(`Created ${stale.length} task`);
    const tasksAfter = await all<{ title: string }>(p.client, 'tasks.task.list', { select: ['ID', 'TITLE'] });
    expect(tasksAfter.length - tasksBefore.length).toBe(stale.length);
    const titles = new Set(tasksAfter.map((t) => t.title ?? (t as Record<string, string>).TITLE));
    for (const d of stale) expect(titles).toContain(`Follow up the deal «${d.TITLE}»`);
    const comments = await all<{ ENTITY_ID: string; COMMENT: string }>(p.client, 'crm.timeline.comment.list', {
      filter: { ENTITY_TYPE: 'deal' },
      select: ['ID', 'ENTITY_ID', 'COMMENT'],
    });
    const commented = new Set(
      comments.filter((c) => c.COMMENT.startsWith('No changes for 14+')).map((c) => String(c.ENTITY_ID)),
    );
    expect([...commented].sort()).toEqual(stale.map((d) => String(d.ID)).sort());
    // the same day again: every keyed write is remembered across runs, nothing is repeated
    const again = await run('stale-deals');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`${stale.length} already done earlier (skipped)`);
    expect(await all(p.client, 'tasks.task.list', { select: ['ID'] })).toHaveLength(tasksAfter.length);
  });

  it('lead-intake: new leads round-robin in the department, duplicates by phone/e-mail only noted', async () => {
    const [contact] = await all<{ ID: string; PHONE: { VALUE: string }[] }>(p.client, 'crm.contact.list', {
      select: ['ID', 'PHONE'],
      filter: { '>ID': 0 },
    });
    const phone = contact!.PHONE[0]!.VALUE.replace(/^\+7(\d{3})(\d{3})(\d{2})(\d{2})$/, '8 ($1) $2-$3-$4');
    const add = async (fields: Record<string, unknown>) =>
      String((await p.client.call('crm.lead.add', { fields: { STATUS_ID: 'NEW', ...fields } })).result);
    const fresh1 = await add({ TITLE: 'Fresh lead 1', PHONE: [{ VALUE: '+7 900 111-22-33', VALUE_TYPE: 'WORK' }] });
    const fresh2 = await add({
      TITLE: 'Fresh lead 2',
      EMAIL: [{ VALUE: 'new.client@example.org', VALUE_TYPE: 'WORK' }],
    });
    const dup = await add({ TITLE: 'Returning client', PHONE: [{ VALUE: phone, VALUE_TYPE: 'WORK' }] });
    const r = await run('lead-intake');
    expect(r.code).toBe(0);
    const sales = (
      await p.client.call<{ ID: string }[]>('user.get', { FILTER: { UF_DEPARTMENT: 2, ACTIVE: true } })
    ).result.map((u) => String(u.ID));
    const get = async (id: string) => (await p.client.call<Record<string, string>>('crm.lead.get', { id })).result;
    const l1 = await get(fresh1);
    const l2 = await get(fresh2);
    const ld = await get(dup);
    expect(l1.STATUS_ID).toBe('IN_PROCESS');
    expect(l2.STATUS_ID).toBe('IN_PROCESS');
    expect(sales).toContain(String(l1.ASSIGNED_BY_ID));
    expect(sales).toContain(String(l2.ASSIGNED_BY_ID));
    if (sales.length > 1) expect(l1.ASSIGNED_BY_ID).not.toBe(l2.ASSIGNED_BY_ID);
    expect(ld.STATUS_ID).toBe('NEW');
    const notes = await all<{ COMMENT: string }>(p.client, 'crm.timeline.comment.list', {
      filter: { ENTITY_TYPE: 'lead', ENTITY_ID: dup },
      select: ['ID', 'COMMENT'],
    });
    expect(notes.map((n) => n.COMMENT)).toEqual([expect.stringContaining('Possible duplicate')]);
  });

  it('weekly-report: posts the sums per stage to the chat', async () => {
    const deals = await all<{ OPPORTUNITY: string }>(p.client, 'crm.deal.list', {
      filter: { CLOSED: 'N' },
      select: ['ID', 'OPPORTUNITY'],
    });
    const total = Math.trunc(deals.reduce((a, d) => a + Number(d.OPPORTUNITY || 0), 0));
    const r = await run('weekly-report');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Sent 1 |Posted 1 |1 message/i);
    const msgs = (await p.client.call<{ messages: { text: string }[] }>('im.dialog.messages.get', { DIALOG_ID: '1' }))
      .result.messages;
    const report = msgs.find((m) => m.text.startsWith('Open deals by stage'));
    expect(report?.text).toContain(`Total: ${total}`);
  });

  it('bulk-stage-move: refuses without confirmation, stops at the max check, then moves every deal', async () => {
    const inStage = async (s: string) =>
      (await all<{ ID: string }>(p.client, 'crm.deal.list', { filter: { STAGE_ID: s }, select: ['ID'] })).map(
        (d) => d.ID,
      );
    const before = await inStage('NEW');
    const prepBefore = await inStage('PREPARATION');
    expect(before.length).toBeGreaterThan(1);
    const args = ['--input', 'from=NEW', '--input', 'to=PREPARATION'];
    const refused = await cli(['run', 'pipelines/bulk-stage-move.yaml', '--mode', 'full', ...args], p.env);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toMatch(/• deal \d+: STAGE_ID: NEW → PREPARATION/);
    expect(refused.stderr).toContain('needs --confirm-write');
    const blocked = await run('bulk-stage-move', ...args, '--input', 'max=1');
    expect(blocked.code).toBe(1);
    expect(blocked.stdout).toContain('More deals match than the allowed maximum');
    expect(await inStage('NEW')).toEqual(before);
    const ok = await run('bulk-stage-move', ...args);
    expect(ok.stderr + ok.stdout + ok.code).toMatch(/0$/);
    expect(ok.stdout).toContain(`Updated ${before.length} deals`);
    expect(await inStage('NEW')).toEqual([]);
    expect((await inStage('PREPARATION')).sort()).toEqual([...prepBefore, ...before].sort());
  });

  it('duplicate-contacts: reports groups sharing a phone and changes nothing', async () => {
    const a = (
      await p.client.call('crm.contact.add', { fields: { NAME: 'Twin', PHONE: [{ VALUE: '+7 (911) 555-00-11' }] } })
    ).result;
    const b = (await p.client.call('crm.contact.add', { fields: { NAME: 'Twin', PHONE: [{ VALUE: '89115550011' }] } }))
      .result;
    const writesBefore = (await p.sb.admin.stats()).writes;
    const r = await cli(['run', 'pipelines/duplicate-contacts.yaml', '--mode', 'full', '--json'], p.env);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.writes).toEqual([]);
    const group = out.outputs.duplicates.find((g: { value: string }) => g.value === '+79115550011');
    expect(group.ids.sort()).toEqual([String(a), String(b)].sort());
    expect((await p.sb.admin.stats()).writes).toEqual(writesBefore);
  });

  it('smart-process: creates a type, adds items, moves them to the next stage and reads them back', async () => {
    const check = await cli(['check', 'pipelines/smart-process.yaml'], p.env);
    expect(check.code, check.stdout).toBe(0);
    const r = await cli(['run', 'pipelines/smart-process.yaml', '--mode', 'full', '--confirm-write', '--json'], p.env);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.status).toBe('completed');
    const etid = out.outputs.entityTypeId as number;
    expect(etid).toBeGreaterThanOrEqual(1030);
    expect(out.outputs.moved).toBe(3);
    const type = (
      await p.client.call<{ type: { title: string } }>('crm.type.getByEntityTypeId', { entityTypeId: etid })
    ).result.type;
    expect(type.title).toBe('Supply orders');
    const items = (
      await p.client.call<{ items: { title: string; stageId: string; previousStageId: string }[] }>('crm.item.list', {
        entityTypeId: etid,
        select: ['title', 'stageId', 'previousStageId'],
      })
    ).result.items;
    expect(items.map((i) => i.title)).toEqual(['Cement', 'Rebar', 'Timber']);
    for (const i of items) {
      expect(i.stageId).toMatch(new RegExp(`^DT${etid}_\\d+:PREPARATION$`));
      expect(i.previousStageId).toMatch(new RegExp(`^DT${etid}_\\d+:NEW$`));
    }
    // every run sets up a new smart process; its item writes are keyed by the new type
    const again = await cli(
      ['run', 'pipelines/smart-process.yaml', '--mode', 'full', '--confirm-write', '--json'],
      p.env,
    );
    expect(again.code, again.stderr + again.stdout).toBe(0);
    const second = JSON.parse(again.stdout).outputs;
    expect(second.entityTypeId).toBe(etid + 2);
    expect(second.moved).toBe(3);
    expect(
      (await p.client.call<{ types: unknown[] }>('crm.type.list', { filter: { title: 'Supply orders' } })).result.types,
    ).toHaveLength(2);
  });

  it('offline-events-bootstrap: binds the missing offline handlers once (app auth)', async () => {
    const hook = await run('offline-events-bootstrap');
    expect(hook.code).toBe(2);
    expect(hook.stderr).toMatch(
      /offline-events-bootstrap\.yaml:\d+:\d+: event\.bind works only with an application .*\[app-auth\]/,
    );
    const env = await appEnv(p);
    const r = await cli(['run', 'pipelines/offline-events-bootstrap.yaml', '--mode', 'full', '--confirm-write'], env);
    expect(r.stderr).not.toMatch(/WRONG_AUTH_TYPE/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/3 event handler|Registered 3|Bound 3/i);
    const again = await cli(
      ['run', 'pipelines/offline-events-bootstrap.yaml', '--mode', 'full', '--confirm-write'],
      env,
    );
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('Nothing to do');
  });
});
