/**
 * A run killed with SIGKILL in the middle of a 500-write foreach (real child process, real HTTP) and resumed with
 * `b24flow resume` ends with exactly 500 writes in the sandbox: completed writes are skipped by the journal, the
 * write in flight at the kill is found again by its ORIGIN_ID.
 */

import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { all, cli, root, startPortal, type TestPortal } from './helpers.js';

let p: TestPortal;
beforeAll(async () => {
  p = await startPortal({ size: 5 });
});
afterAll(async () => {
  await p?.close();
});

async function bulkDeals(tag: string): Promise<string[]> {
  const rows = await all<{ TITLE: string }>(p.client, 'crm.deal.list', { select: ['ID', 'TITLE'] });
  return rows.map((r) => r.TITLE).filter((t) => t.startsWith(`${tag} deal `));
}

describe('kill -9 and resume', () => {
  it('ends with exactly 500 writes', async () => {
    const tag = 'killme';
    const env = { ...p.env, B24_CLOCK_FACTOR: '100' };
    const child = spawn(
      process.execPath,
      [
        'bin/b24flow.js',
        'run',
        'tests/fixtures/pipelines/bulk-create.yaml',
        '--mode',
        'full',
        '--confirm-write',
        '--no-batching',
        '--input',
        `tag=${tag}`,
      ],
      { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('close', (_c, s) => res(s)));
    // kill it once the portal has seen a good part of the writes
    let seen = 0;
    for (let i = 0; i < 2000; i++) {
      seen = (await p.sb.admin.stats()).writes['crm.deal.add'] ?? 0;
      if (seen >= 120) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const afterKill = await bulkDeals(tag);
    expect(afterKill.length).toBeGreaterThanOrEqual(120);
    expect(afterKill.length).toBeLessThan(500);

    const runs = JSON.parse((await cli(['runs', '--json'], p.env)).stdout) as { runId: string; status: string }[];
    expect(runs[0]!.status).toBe('interrupted'); // its process is gone: not 'running' forever
    // the store's write log holds what the killed run did: some writes done, not all (the write log keeps the
    // latest state per key, so an intent is left only when the kill landed inside a batch, which timing decides)
    const shown = JSON.parse((await cli(['runs', 'show', runs[0]!.runId, '--json'], p.env)).stdout) as {
      writes: { state: string }[];
    };
    const done = shown.writes.filter((w) => w.state === 'done').length;
    expect(done).toBeGreaterThan(0);
    expect(done + shown.writes.filter((w) => w.state === 'intent').length).toBeLessThanOrEqual(afterKill.length + 50);
    expect(done).toBeLessThan(500);

    const r = await cli(['resume', runs[0]!.runId], p.env);
    expect(r.stderr).not.toMatch(/error|fail/i);
    expect(r.code).toBe(0);
    // the resumed run counts all its writes: those before the kill (journal, or found on the portal) and after
    expect(r.stdout).toMatch(/Created 500 deals \(\d+ of them before the run was resumed\)/);
    expect(r.stdout).not.toMatch(/already done earlier/);
    const final = await bulkDeals(tag);
    expect(final).toHaveLength(500);
    expect(new Set(final).size).toBe(500);
    expect(((await p.sb.admin.stats()).writes['crm.deal.add'] ?? 0) - 0).toBeGreaterThanOrEqual(500);

    const again = await cli(['resume', runs[0]!.runId], p.env);
    expect(again.code).toBe(2);
    expect(await bulkDeals(tag)).toHaveLength(500);
  });
});
