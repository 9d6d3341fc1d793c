/** A pipeline step that `use`s a catalog recipe runs the recipe's steps with its inputs and returns its outputs. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { all, cli, startPortal, type TestPortal } from './helpers.js';

let p: TestPortal;
beforeAll(async () => {
  p = await startPortal({ size: 5 });
});
afterAll(async () => {
  await p?.close();
});

describe('use: recipe', () => {
  it('creates the task and the timeline link, and passes the outputs on', async () => {
    const deal = (await p.client.call<{ TITLE: string }>('crm.deal.get', { id: 2 })).result;
    const shadow = await cli(['run', 'tests/fixtures/pipelines/use-recipe.yaml', '--input', 'deal=2'], p.env);
    expect(shadow.code).toBe(0);
    expect(shadow.stdout).toContain('(uses results of earlier writes)');
    const r = await cli(
      ['run', 'tests/fixtures/pipelines/use-recipe.yaml', '--mode', 'full', '--confirm-write', '--input', 'deal=2'],
      p.env,
    );
    expect(r.stderr + r.code).toMatch(/0$/);
    const tasks = await all<Record<string, string>>(p.client, 'tasks.task.list', { select: ['ID', 'TITLE'] });
    const task = tasks.find((t) => (t.title ?? t.TITLE) === `Follow up: ${deal.TITLE}`);
    expect(task).toBeDefined();
    const taskId = String(task!.id ?? task!.ID);
    const notes = await all<{ COMMENT: string }>(p.client, 'crm.timeline.comment.list', {
      filter: { ENTITY_TYPE: 'deal', ENTITY_ID: 2 },
      select: ['ID', 'COMMENT'],
    });
    expect(notes.map((n) => n.COMMENT)).toContain(`Follow-up task created: #${taskId}`);
    const after = (await p.client.call<{ COMMENTS: string }>('crm.deal.get', { id: 2 })).result;
    expect(after.COMMENTS).toBe(`follow-up task ${taskId}`);
  });
});
