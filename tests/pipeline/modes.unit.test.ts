/**
 * Canary decides "safe create" from the catalog's `canary` flag (never from the method name), batch steps in canary
 * need every command allowed, and the confirmation pre-check of a full run covers steps inside recipes and
 * sub-pipelines before anything is written.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/catalog/index.js';
import type { Recipe } from '../../src/generated/recipe.js';
import { catalogFrom } from '../../src/pipeline/catalog.js';
import { checkPipeline } from '../../src/pipeline/check/index.js';
import { loadPipelineFile, loadPipelineText } from '../../src/pipeline/load.js';
import { isSafeCreate } from '../../src/pipeline/modes.js';
import { runPipeline } from '../../src/pipeline/run/index.js';
import { scanPending, testDir } from '../support/testRoot.js';
import { InMemoryClient } from './inMemoryClient.js';
import { testCatalog } from './testCatalog.js';

/** Records every method it executes; knows just enough to answer the pipelines below. */
class RecordingClient extends InMemoryClient {
  calls: string[] = [];
  exec(method: string, params: any): unknown {
    this.calls.push(method);
    switch (method) {
      case 'crm.deal.list':
        return [{ ID: '1', TITLE: 'A', ASSIGNED_BY_ID: '1' }];
      case 'crm.deal.add':
      case 'crm.contact.add':
        return 100 + this.calls.length;
      case 'crm.deal.update':
      case 'crm.deal.delete':
        return true;
      case 'tasks.task.add':
        return { task: { id: this.calls.length } };
      case 'batch': {
        const result: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(params.cmd as Record<string, string>))
          result[k] = this.exec(v.split('?')[0]!, {});
        return { result };
      }
      default:
        throw Object.assign(new Error(`no ${method}`), { code: 'ERROR_METHOD_NOT_FOUND' });
    }
  }
  writes(): string[] {
    return this.calls.filter((m) => !/\.(list|get)$/.test(m) && m !== 'batch');
  }
}

describe('canary safe creates come from the catalog', () => {
  it('the shipped catalog flags exactly the reviewed safe creates, all of them writes', () => {
    const cat = loadCatalog();
    const flagged = cat.packs
      .flatMap((p) => p.methods)
      .filter((m) => m.canary)
      .map((m) => m.name)
      .sort();
    expect(flagged).toEqual([
      'crm.activity.add',
      'crm.deal.add',
      'crm.timeline.comment.add',
      'entity.item.add',
      'task.checklistitem.add',
      'task.commentitem.add',
      'tasks.task.add',
    ]);
    for (const n of flagged) expect(isSafeCreate(cat.method(n)!)).toBe(true);
    // `.add` methods the catalog does not flag are not safe creates, whatever their name says
    for (const n of ['crm.contact.add', 'crm.lead.add', 'im.message.add', 'crm.item.add', 'calendar.event.add'])
      expect(isSafeCreate(cat.method(n)!), n).toBe(false);
  });

  it('canary refuses a non-flagged .add with the reason and runs a flagged one (real catalog)', async () => {
    const c = new RecordingClient();
    const p = loadPipelineText(
      `name: c
steps:
  - id: contact
    method: crm.contact.add
    params: { fields: { NAME: Ann } }
  - id: deal
    method: crm.deal.add
    params: { fields: { TITLE: New } }
`,
      'c.yaml',
    );
    const r = await runPipeline(p, { client: c, catalog: loadCatalog(), journal: false, mode: 'canary', lang: 'en' });
    expect(r.refusals).toEqual([
      { step: 'contact', reason: 'canary runs only safe creates; this change needs --mode full' },
    ]);
    expect(c.writes()).toEqual(['crm.deal.add']);
    expect(r.steps.find((s) => s.id === 'contact')!.status).toBe('refused');
    expect(r.steps.find((s) => s.id === 'deal')!.status).toBe('done');
  });

  it('the same method runs in canary once the catalog flags it (the name decides nothing)', async () => {
    const flagged = catalogFrom(
      testCatalog.packs.map((pk) => ({
        ...pk,
        methods: pk.methods.map((m) => (m.name === 'crm.contact.add' ? { ...m, canary: true } : m)),
      })),
    );
    const c = new RecordingClient();
    const p = loadPipelineText(
      'name: c\nsteps:\n  - id: contact\n    method: crm.contact.add\n    params: { fields: { NAME: Ann } }\n',
      'c.yaml',
    );
    const r = await runPipeline(p, { client: c, catalog: flagged, journal: false, mode: 'canary' });
    expect(r.refusals).toEqual([]);
    expect(c.writes()).toEqual(['crm.contact.add']);
  });

  it('a batch step runs in canary only when every command is a read or a safe create', async () => {
    const batch = (cmd: string) =>
      loadPipelineText(`name: b\nsteps:\n  - id: b\n    method: batch\n    params:\n      cmd:\n${cmd}`, 'b.yaml');
    const ok = new RecordingClient();
    const r1 = await runPipeline(
      batch(
        '        a: { method: crm.deal.list, params: { select: [ID] } }\n' +
          '        b: { method: crm.deal.add, params: { fields: { TITLE: X } } }\n',
      ),
      { client: ok, catalog: testCatalog, journal: false, mode: 'canary', lang: 'en' },
    );
    expect(r1.refusals).toEqual([]);
    expect(ok.calls).toEqual(['batch', 'crm.deal.list', 'crm.deal.add']);

    const bad = new RecordingClient();
    const r2 = await runPipeline(
      batch(
        '        a: { method: crm.deal.add, params: { fields: { TITLE: X } } }\n' +
          '        b: { method: crm.contact.add, params: { fields: { NAME: Y } } }\n',
      ),
      { client: bad, catalog: testCatalog, journal: false, mode: 'canary', lang: 'en' },
    );
    expect(r2.refusals).toEqual([
      {
        step: 'b',
        reason:
          'canary runs a batch only when every command is a read or a safe create; command "b" (crm.contact.add) needs --mode full',
      },
    ]);
    expect(bad.calls).toEqual([]);

    // a command whose method is only known at run time (data picks it) is never sent, in any mode
    const dyn = new RecordingClient();
    const p3 = loadPipelineText(
      `name: b\ninputs: { m: { type: string } }\nsteps:\n  - id: b\n    method: batch\n    params:\n      cmd:\n        a: { method: "\${{ inputs.m }}" }\n`,
      'b.yaml',
    );
    const r3 = await runPipeline(p3, {
      client: dyn,
      catalog: testCatalog,
      journal: false,
      mode: 'canary',
      lang: 'en',
      inputs: { m: 'crm.deal.delete' },
    });
    expect(r3.status).toBe('failed');
    expect(r3.error).toContain('batch command "a": method must be a literal method name');
    expect(dyn.calls).toEqual([]);
  });
});

const recipe = (steps: unknown[]): Recipe =>
  ({
    recipe: 'follow-up',
    pack: 'core',
    title: { en: 'Follow up', ru: 'Следующий шаг' },
    inputs: { deal: { type: 'integer', required: true } },
    steps,
  }) as unknown as Recipe;

describe('confirmation pre-check covers recipes and sub-pipelines', () => {
  const withRecipe = (steps: unknown[]) =>
    catalogFrom(
      testCatalog.packs.map((pk) => ({ ...pk })),
      [recipe(steps)],
    );
  const taskStep = {
    id: 'task',
    method: 'tasks.task.add',
    params: { fields: { TITLE: 'Call', RESPONSIBLE_ID: 1 } },
  };

  it('a recipe that writes, run in full mode without --confirm-write, writes nothing and shows the plan', async () => {
    const c = new RecordingClient();
    const p = loadPipelineText(
      `name: r
steps:
  - id: deals
    method: crm.deal.list
  - id: follow
    use: follow-up
    with: { deal: 1 }
`,
      'r.yaml',
    );
    const r = await runPipeline(p, { client: c, catalog: withRecipe([taskStep]), journal: false, mode: 'full' });
    expect(r.status).toBe('refused');
    expect(r.refusals).toEqual([{ step: 'follow.task', reason: 'needs --confirm-write' }]);
    expect(c.writes()).toEqual([]);
    expect(r.plan!.writes.map((w) => `${w.step} ${w.method}`)).toEqual(['follow.task tasks.task.add']);
  });

  it('a destructive step inside a recipe stops a confirmed run before its first top-level write', async () => {
    const c = new RecordingClient();
    const p = loadPipelineText(
      `name: r
steps:
  - id: first
    method: crm.deal.add
    params: { fields: { TITLE: Before } }
  - id: follow
    use: follow-up
    with: { deal: 1 }
`,
      'r.yaml',
    );
    const cat = withRecipe([taskStep, { id: 'drop', method: 'crm.deal.delete', params: { id: 1 } }]);
    const r = await runPipeline(p, { client: c, catalog: cat, journal: false, mode: 'full', confirmWrite: true });
    expect(r.status).toBe('refused');
    expect(r.refusals).toEqual([{ step: 'follow.drop', reason: 'needs --confirm-destructive' }]);
    expect(c.writes()).toEqual([]);
    const ok = await runPipeline(p, {
      client: c,
      catalog: cat,
      journal: false,
      mode: 'full',
      confirmWrite: true,
      confirmDestructive: true,
    });
    expect(ok.status).toBe('completed');
    expect(c.writes().sort()).toEqual(['crm.deal.add', 'crm.deal.delete', 'tasks.task.add']);
  });

  const dir = testDir('b24flow-nested-');
  afterAll(() => (scanPending() ? undefined : rmSync(dir, { recursive: true, force: true })));

  it('a sub-pipeline (pipeline:) that writes is refused up front; check reports unconfirmable nested deletes', async () => {
    writeFileSync(
      join(dir, 'child.yaml'),
      'name: child\nsteps:\n  - id: drop\n    method: crm.deal.delete\n    params: { id: 1 }\n',
    );
    writeFileSync(
      join(dir, 'parent.yaml'),
      `name: parent
triggers:
  - schedule: { cron: "0 3 * * *", approve: [write] }
steps:
  - id: first
    method: crm.deal.add
    params: { fields: { TITLE: Before } }
  - id: sub
    pipeline: child.yaml
`,
    );
    const p = await loadPipelineFile(join(dir, 'parent.yaml'));
    const c = new RecordingClient();
    const r = await runPipeline(p, {
      client: c,
      catalog: testCatalog,
      journal: false,
      mode: 'full',
      confirmWrite: true,
      confirmDestructive: true,
      trigger: { kind: 'schedule' },
    });
    expect(r.status).toBe('refused');
    expect(r.refusals.map((x) => x.step)).toEqual(['sub.drop']);
    expect(c.writes()).toEqual([]);
    const findings = checkPipeline(p, { catalog: testCatalog })
      .filter((f) => f.rule === 'destructive-unconfirmable')
      .map((f) => `${f.line}:${f.col} ${f.severity} ${f.message}`);
    expect(findings).toEqual([
      '9:15 error destructive step "sub.drop" (crm.deal.delete) (through pipeline child.yaml) in a pipeline whose triggers (schedule) can never confirm it',
    ]);
  });

  it('check reports a destructive step inside a recipe at the use: step', () => {
    const p = loadPipelineText(
      `name: r
triggers:
  - event: { events: [ONCRMDEALADD], approve: [write] }
steps:
  - id: follow
    use: follow-up
    with: { deal: 1 }
`,
      'r.yaml',
    );
    const cat = withRecipe([{ id: 'drop', method: 'crm.deal.delete', params: { id: 1 } }]);
    const f = checkPipeline(p, { catalog: cat }).filter((x) => x.rule === 'destructive-unconfirmable');
    expect(f.map((x) => `${x.line}:${x.col} ${x.severity}`)).toEqual(['6:10 error']);
    expect(f[0]!.message).toContain('"follow.drop" (crm.deal.delete) (through recipe follow-up)');
  });
});
