/**
 * Edges of input and output, through the real CLI: output piped into a reader that stops early ends quietly;
 * `export --out` to a path that cannot be written is a clean error before anything is read from the portal;
 * sources over 5 MB are refused before parsing; a YAML alias bomb is refused with file:line.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, root } from '../pipeline/helpers.js';
import { testRoot } from '../support/testRoot.js';

const dir = mkdtempSync(join(testRoot(), 'input-edges-'));
const env = { ...process.env, BITRIX_WEBHOOK_URL: '', B24_CLIENT_ID: '', B24_CLIENT_SECRET: '', B24FLOW_DATA_DIR: dir };

describe('input and output edges', () => {
  it('output piped into a reader that closes early ends quietly (no EPIPE trace)', async () => {
    const child = spawn(process.execPath, ['bin/b24flow.js', 'catalog', 'search', 'deal'], { cwd: root, env });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.stdout.destroy(); // like `| head -1`
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(stderr).not.toMatch(/EPIPE|Error/);
    expect(code).toBe(0);
  });

  it('export --out under a regular file is a clean error, nothing exported', async () => {
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, 'x');
    const r = await cli(['export', 'crm.deal.list', '--out', join(blocker, 'deals.jsonl')], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot write --out .*ENOTDIR/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a pipeline over 5 MB before parsing it', async () => {
    const big = join(dir, 'big.yaml');
    writeFileSync(
      big,
      `name: big\npacks: [core]\nsteps:\n  - id: a\n    method: crm.item.list\n    params: { entityTypeId: 2 }\n${'#'.repeat(6 * 1024 * 1024)}\n`,
    );
    const r = await cli(['check', '--no-cache', big], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/big\.yaml:1:1: file is 6\.0 MB; sources are limited to 5 MB \[load\]/);
  });

  it('refuses a YAML alias bomb at the line of its first alias', async () => {
    let text = 'name: bomb\npacks: [core]\na0: &a0 [x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 10; i++)
      text += `a${i}: &a${i} [${Array(9)
        .fill(`*a${i - 1}`)
        .join(', ')}]\n`;
    text += 'steps:\n  - id: a\n    method: crm.item.list\n    params: { entityTypeId: 2, filter: *a9 }\n';
    const bomb = join(dir, 'bomb.yaml');
    writeFileSync(bomb, text);
    const r = await cli(['check', '--no-cache', bomb], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/bomb\.yaml:4:\d+: YAML aliases expand too much.*\[yaml\]/);
  });
});
