/**
 * An installed b24flow runs its own examples from any directory: `pipelines/stale-deals.yaml` (or `stale-deals`)
 * that does not exist in the working directory is the shipped example, said on stderr. A path that exists is used as
 * given; a name that is no shipped example is reported as unreadable.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from '../pipeline/helpers.js';
import { testRoot } from '../support/testRoot.js';

const empty = mkdtempSync(join(testRoot(), 'empty-cwd-'));
const env = {
  ...process.env,
  BITRIX_WEBHOOK_URL: '',
  B24_CLIENT_ID: '',
  B24_CLIENT_SECRET: '',
  B24FLOW_DATA_DIR: join(empty, 'data'),
};
const b24flow = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'bin', 'b24flow.js'), ...args], { cwd: empty, env, encoding: 'utf8' });

describe('shipped examples from an empty directory', () => {
  it('check and graph find pipelines/<name>.yaml and <name> in the package', () => {
    const r = b24flow('check', '--no-cache', 'pipelines/stale-deals.yaml', 'weekly-report');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/using the shipped example .*pipelines\/stale-deals\.yaml/);
    expect(r.stdout).toMatch(/stale-deals\.yaml: ok/);
    expect(r.stdout).toMatch(/weekly-report\.yaml: ok/);
    const g = b24flow('graph', 'pipelines/stale-deals.yaml');
    expect(g.status, g.stderr).toBe(0);
    expect(g.stdout).toMatch(/^flowchart TD/);
  });

  it('a name that is no shipped example stays unreadable', () => {
    const r = b24flow('check', '--no-cache', 'pipelines/no-such-example.yaml');
    expect(r.status).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/no-such-example\.yaml: cannot read pipeline/);
  });
});
