/**
 * The audit log is written before a write is sent: when its line cannot be written (here the data directory's
 * `audit` is a regular file), the write is not sent — neither from `call` nor from a pipeline run — while reads go on.
 * Real CLI processes against the sandbox portal; the portal's own write counters are the proof.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, root, startPortal, type TestPortal } from '../pipeline/helpers.js';
import { testRoot } from '../support/testRoot.js';

let p: TestPortal;
let env: NodeJS.ProcessEnv;
const writes = async (method: string) => (await p.sb.admin.stats()).writes[method] ?? 0;

beforeAll(async () => {
  p = await startPortal({ size: 30 });
  const dataDir = join(testRoot(), `audit-broken-${process.pid}`);
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, 'audit'), 'not a directory');
  env = { ...p.env, B24FLOW_DATA_DIR: dataDir };
});
afterAll(async () => {
  await p?.close();
});

describe('audit before write', () => {
  it('call: the write is refused unsent, a read still answers', async () => {
    const before = await writes('crm.deal.add');
    const r = await cli(['call', 'crm.deal.add', '--params', '{"fields":{"TITLE":"audit"}}', '--confirm-write'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/audit log .* cannot be written .*crm\.deal\.add write was not sent/);
    expect(await writes('crm.deal.add')).toBe(before);
    const read = await cli(['call', 'crm.deal.list', '--params', '{"select":["ID"]}'], env);
    expect(read.code, read.stderr).toBe(0);
  });

  it('a full pipeline run sends none of its writes', async () => {
    const tasks = await writes('tasks.task.add');
    const r = await cli(['run', join(root, 'pipelines', 'stale-deals.yaml'), '--mode', 'full', '--confirm-write'], env);
    expect(r.stdout + r.stderr).toMatch(/audit log .* cannot be written/);
    expect(await writes('tasks.task.add')).toBe(tasks);
    expect(await writes('crm.timeline.comment.add')).toBe(0);
  });
});
