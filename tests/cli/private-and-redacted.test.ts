/**
 * Two promises enforced once in the composition root (src/cli/compose.ts `configureProcess`), through the real CLI:
 * - every file and directory a command writes under the data directory is private (0600 / 0700), created so from
 *   the start (journals hold CRM data; the idempotency store, audit log and plans too), and a data directory left
 *   0755 by an older version is tightened;
 * - a malformed `BITRIX_WEBHOOK_URL` never reaches an error message, whatever its shape.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, root, startPortal, type TestPortal } from '../pipeline/helpers.js';
import { testRoot } from '../support/testRoot.js';

function walk(dir: string): { path: string; dir: boolean; mode: number }[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    const mode = statSync(path).mode & 0o777;
    return e.isDirectory() ? [{ path, dir: true, mode }, ...walk(path)] : [{ path, dir: false, mode }];
  });
}

describe('files under the data directory are private', () => {
  let p: TestPortal;
  beforeAll(async () => {
    p = await startPortal({ size: 60 });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('a full run writes only 0600 files in 0700 directories, and tightens a 0755 data dir', async () => {
    const dataDir = join(testRoot(), `private-data-${process.pid}`);
    mkdirSync(dataDir, { mode: 0o755 });
    const env = { ...p.env, B24FLOW_DATA_DIR: dataDir };
    const r = await cli(['run', join(root, 'pipelines', 'stale-deals.yaml'), '--mode', 'full', '--confirm-write'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    const entries = walk(dataDir);
    // the store (journal, writes, keys) and the audit log at least
    const files = entries.filter((e) => !e.dir).map((e) => e.path);
    expect(
      files.some((f) => f.endsWith('b24flow.db')),
      files.join(', '),
    ).toBe(true);
    expect(files.length).toBeGreaterThanOrEqual(2);
    const open = entries.filter((e) => (e.dir ? e.mode !== 0o700 : e.mode !== 0o600));
    expect(open.map((e) => `${e.path} ${e.mode.toString(8)}`)).toEqual([]);
  });
});

describe('a malformed BITRIX_WEBHOOK_URL is never echoed', () => {
  const code = 'q7w8e9r0t1y2u3i4';
  it.each([
    `https://portal.example/rest/${code}`,
    `htps:/portal.example/rest/1/${code}/`,
    `portal.example/rest/1/${code}`,
    `https://portal.example/rest/x/${code}/profile`,
    `https://portal.example/${code}`,
  ])('%s', async (url) => {
    const r = await cli(['call', 'user.current'], { ...process.env, BITRIX_WEBHOOK_URL: url, B24_CLIENT_ID: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/BITRIX_WEBHOOK_URL/);
    expect(r.stderr + r.stdout).not.toContain(code);
  });
});
