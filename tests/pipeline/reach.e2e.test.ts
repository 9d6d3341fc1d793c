/**
 * Reach (issue 13 items 1 and 2), through the real CLI against the sandbox portal over HTTP:
 * - a reference-only method needs `allow: [{ method, risk }]` with at least its reference risk (rule reference-risk),
 *   then runs; a destructive one still needs --confirm-destructive;
 * - the newly curated methods run in pipelines;
 * - a read that uses a write's result is deferred in the plan (`<after step mk>`) and sent after the write by run.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, startPortal, type TestPortal } from './helpers.js';

const fx = (name: string) => join('tests', 'fixtures', 'reach', `${name}.yaml`);
let p: TestPortal;
const writes = async (method: string) => (await p.sb.admin.stats()).writes[method] ?? 0;
const runJson = async (name: string, ...flags: string[]) => {
  const r = await cli(['run', fx(name), '--mode', 'full', '--json', ...flags], p.env);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout) as {
    status: string;
    outputs?: Record<string, unknown>;
    steps: { id: string; status: string; results?: unknown[] }[];
  };
};

beforeAll(async () => {
  p = await startPortal({ size: 20 });
});
afterAll(async () => {
  await p?.close();
});

describe('reference-only methods', () => {
  it('check refuses one without an allow entry, with file:line:col and its reference risk', async () => {
    const r = await cli(['check', fx('pipeline-noallow')], p.env);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(
      'tests/fixtures/reach/pipeline-noallow.yaml:5:13: "crm.category.get" is a reference-only method (in no curated pack; reference risk: read, heuristic); acknowledge it at the top level: allow: [{ method: crm.category.get, risk: read }]',
    );
    expect(r.stdout).toContain('[reference-risk]');
    const run = await cli(['run', fx('pipeline-noallow')], p.env);
    expect(run.code).toBe(2);
  });

  it('check refuses an acknowledgement below the reference risk', async () => {
    const r = await cli(['check', fx('pipeline-low')], p.env);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(
      'tests/fixtures/reach/pipeline-low.yaml:4:42: allow: "crm.category.delete" acknowledged as write, below its reference risk destructive',
    );
    expect(r.stdout).toContain('(field /allow/0/risk) [reference-risk]');
  });

  it('with the right risk the pipeline runs; the destructive step still needs --confirm-destructive', async () => {
    expect((await cli(['check', fx('pipeline-allowed')], p.env)).code).toBe(0);
    const adds = await writes('crm.category.add');
    const refused = await cli(['run', fx('pipeline-allowed'), '--mode', 'full', '--confirm-write'], p.env);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/drop: needs --confirm-destructive/);
    expect(await writes('crm.category.add')).toBe(adds);
    const r = await runJson('pipeline-allowed', '--confirm-write', '--confirm-destructive');
    expect(r.status).toBe('completed');
    expect(r.outputs).toEqual({ name: 'Reach pipeline' });
    expect(await writes('crm.category.add')).toBe(adds + 1);
    expect(await writes('crm.category.delete')).toBeGreaterThan(0);
  });
});

describe('read after write', () => {
  it('plan shows the read as deferred; run sends it after the write and returns its value', async () => {
    const check = await cli(['check', fx('read-after-write')], p.env);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('info: step "back" reads the result of write step "mk"');
    const plan = await cli(['plan', fx('read-after-write')], p.env);
    expect(plan.code, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('Deferred read: back (crm.deal.get) <after step mk>');
    expect(plan.stdout).toContain('Deferred read: stage (crm.status.list) <after step mk>');
    const shadow = await cli(['run', fx('read-after-write')], p.env);
    expect(shadow.code, shadow.stderr).toBe(0);
    expect(shadow.stdout).toContain('<after step mk>');
    const r = await runJson('read-after-write', '--confirm-write');
    expect(r.status).toBe('completed');
    expect(r.outputs).toEqual({ title: 'Read after write', stages: 1 });
  });

  it('a stored plan lists the deferred read; apply sends it after the write', async () => {
    const planned = await cli(['plan', fx('read-after-write'), '--json'], p.env);
    expect(planned.code, planned.stderr).toBe(0);
    const pl = JSON.parse(planned.stdout) as { id: string; deferred?: unknown[] };
    expect(pl.deferred).toEqual([
      { step: 'back', method: 'crm.deal.get', after: 'mk' },
      { step: 'stage', method: 'crm.status.list', after: 'mk' },
    ]);
    const adds = await writes('crm.deal.add');
    const applied = await cli(['apply', pl.id, '--confirm-write', '--json'], p.env);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    const r = JSON.parse(applied.stdout) as { status: string; outputs?: Record<string, unknown> };
    expect(r.status).toBe('completed');
    expect(r.outputs).toEqual({ title: 'Read after write', stages: 1 });
    expect(await writes('crm.deal.add')).toBe(adds + 1);
  });
});

describe('newly curated methods', () => {
  it('company add/update, contact/lead/item/task deletes, to-do, fields, user fields, timeline comments', async () => {
    const r = await runJson('curated-crm', '--confirm-write', '--confirm-destructive');
    expect(r.status).toBe('completed');
    expect(r.outputs).toEqual({ company: 'Reach Ltd (renamed)', dealFields: true, itemFields: true });
    for (const m of [
      'crm.company.add',
      'crm.company.update',
      'crm.contact.delete',
      'crm.lead.delete',
      'crm.activity.todo.add',
      'crm.deal.userfield.add',
      'crm.item.delete',
      'tasks.task.delete',
    ])
      expect(await writes(m), m).toBe(1);
  });

  // the sandbox's crm.type.add is a generic stub (answers 1, creates no entity type): crm.item.add on the new type
  // answers "SPA not found" until issue 13 item 4 emulates smart processes
  it.todo('smart process: crm.item.add on the entityTypeId crm.type.add made (sandbox stub, issue 13 item 4)');
  it.todo('crm.item.productrow.set in a pipeline (sandbox fallback reads "set" as an update by id, issue 13 item 4)');

  // crm.type.* and crm.item.productrow.list were served by the sandbox's generic success stub, which now answers
  // "not emulated" (issue 13 item 4); the test runs as soon as the sandbox emulates them (method.get says so)
  it('smart process: crm.type.* and crm.item.productrow.list run in a pipeline', async (ctx) => {
    const needed = ['crm.type.add', 'crm.type.list', 'crm.type.get', 'crm.type.update', 'crm.type.delete'];
    for (const name of [...needed, 'crm.item.productrow.list']) {
      const m = (await (await fetch(`${p.sb.webhookUrl}method.get?name=${name}`)).json()) as any;
      if (!m.result?.isExisting) return ctx.skip(`${name} is not emulated by the sandbox yet`);
    }
    const r = await runJson('smart-process', '--confirm-write', '--confirm-destructive');
    expect(r.status).toBe('completed');
    expect(Object.fromEntries(r.steps.map((s) => [s.id, s.status]))).toEqual({
      type: 'done',
      types: 'done',
      type_get: 'done',
      type_upd: 'done',
      rows_back: 'done',
      type_del: 'done',
    });
    expect(await writes('crm.type.add')).toBe(1);
    expect(await writes('crm.type.delete')).toBe(1);
  });
});
