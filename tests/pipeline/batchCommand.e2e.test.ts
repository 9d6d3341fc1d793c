/**
 * Portal data never becomes batch syntax: a `method: batch` step's commands are `{ method, params }` maps, encoded by
 * the client, so a deal title holding `&id=<other deal>&cmd[x]=crm.deal.delete?id=<third deal>` is written as text
 * into the intended deal and nothing else changes. A command built as text (`$template`) is refused by `check` and by
 * the run, which then sends nothing. Real runs over HTTP against the sandbox portal.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanPending, testDir } from '../support/testRoot.js';
import { cli, startPortal, type TestPortal } from './helpers.js';

let p: TestPortal;
const dir = testDir('b24flow-batchcmd-');
beforeAll(async () => {
  p = await startPortal({ size: 0 });
});
afterAll(async () => {
  await p?.close();
  if (!scanPending()) rmSync(dir, { recursive: true, force: true });
});

type Deal = { ID: string; TITLE: string; COMMENTS?: string | null };

async function deal(id: number): Promise<Deal | undefined> {
  try {
    return (await p.client.call<Deal>('crm.deal.get', { id })).result;
  } catch {
    return undefined; // deleted
  }
}

/** Three deals: the target, whose title carries batch syntax naming the other two, and two bystanders. */
async function threeDeals(): Promise<{ target: number; other: number; third: number; title: string }> {
  const add = async (TITLE: string) => Number((await p.client.call('crm.deal.add', { fields: { TITLE } })).result);
  const other = await add('Bystander one');
  const third = await add('Bystander two');
  const title = `Order 17&id=${other}&cmd[x]=crm.deal.delete?id=${third}`;
  const target = await add(title);
  return { target, other, third, title };
}

describe('batch steps from structured commands', () => {
  it('a deal title with "&id=…&cmd[x]=crm.deal.delete?id=…" is written into the intended deal only', async () => {
    const { target, other, third, title } = await threeDeals();
    const file = join(dir, 'stamp.yaml');
    writeFileSync(
      file,
      `name: stamp
packs: [core]
inputs:
  deal: { type: int, required: true }
steps:
  - id: get
    method: crm.deal.get
    params: { id: "\${{ inputs.deal }}" }
  - id: stamp
    method: batch
    params:
      halt: 1
      cmd:
        upd:
          method: crm.deal.update
          params:
            id: \${{ inputs.deal }}
            fields: { COMMENTS: "\${{ steps.get.result.TITLE }}" }
`,
    );
    const check = await cli(['check', file], p.env);
    expect(check.stdout).not.toContain('[batch-command]');
    const r = await cli(
      ['run', file, '--mode', 'full', '--confirm-write', '--input', `deal=${target}`, '--json'],
      p.env,
    );
    expect(r.stderr + r.code).toMatch(/0$/);
    const out = JSON.parse(r.stdout) as { status: string; steps: { id: string; status: string }[] };
    expect(out.status).toBe('completed');
    // the target got the title as text; the bystanders are untouched and the third deal still exists
    expect((await deal(target))?.COMMENTS).toBe(title);
    expect((await deal(target))?.TITLE).toBe(title);
    const o = await deal(other);
    expect(o?.TITLE).toBe('Bystander one');
    expect(o?.COMMENTS ?? '').toBe('');
    expect((await deal(third))?.TITLE).toBe('Bystander two');
  });

  it('a $template command is refused by check and by the run, which sends no batch', async () => {
    const { target, other, third, title } = await threeDeals();
    const file = join(dir, 'template.yaml');
    writeFileSync(
      file,
      `name: template
packs: [core]
inputs:
  deal: { type: int, required: true }
steps:
  - id: get
    method: crm.deal.get
    params: { id: "\${{ inputs.deal }}" }
  - id: stamp
    method: batch
    params:
      cmd:
        upd: { $template: "crm.deal.update?id={{ inputs.deal }}&fields[COMMENTS]={{ steps.get.result.TITLE }}" }
`,
    );
    const check = await cli(['check', file], p.env);
    expect(check.code).toBe(2);
    expect(check.stdout).toMatch(/template\.yaml:13:14: batch command "upd" is text;.*\[batch-command\]/);
    await p.sb.admin.resetStats();
    const r = await cli(['run', file, '--mode', 'full', '--confirm-write', '--input', `deal=${target}`], p.env);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('batch command "upd" is text');
    expect((await p.sb.admin.stats()).byMethod.batch ?? 0).toBe(0);
    expect((await deal(target))?.COMMENTS ?? '').toBe('');
    expect((await deal(target))?.TITLE).toBe(title);
    expect((await deal(other))?.COMMENTS ?? '').toBe('');
    expect((await deal(third))?.TITLE).toBe('Bystander two');
  });
});
