/**
 * `b24flow.config.yaml` (through `B24FLOW_CONFIG`): validated by its schema (errors name file, line and field), read
 * below the environment (an environment variable wins over the file), with `retention:` reaching `gc`.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../pipeline/helpers.js';
import { testDir } from '../support/testRoot.js';

const { B24FLOW_DATA_DIR: _dataDir, ...inherited } = process.env;
const base = { ...inherited, BITRIX_WEBHOOK_URL: '', B24_CLIENT_ID: '', B24_CLIENT_SECRET: '' };

describe('b24flow.config.yaml', () => {
  it('sets the data dir and retention; the environment wins over the file', async () => {
    const dir = testDir('b24flow-config-');
    const fromFile = join(dir, 'from-file');
    const cfg = join(dir, 'b24flow.config.yaml');
    writeFileSync(cfg, `data_dir: ${fromFile}\nlocale: en\nretention: { runs_days: 0, keys_days: 30 }\n`);
    const env = { ...base, B24FLOW_CONFIG: cfg };
    const run = await cli(['run', 'pipelines/duplicate-contacts.yaml', '--mode', 'full', '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(fromFile, 'b24flow.db'))).toBe(true);
    // the environment's retention wins: nothing is old enough
    const kept = await cli(['gc', '--json'], { ...env, B24FLOW_RETENTION_DAYS: '30' });
    expect(JSON.parse(kept.stdout).runs).toBe(0);
    // the file's retention: runs_days 0 collects the finished run
    const gone = await cli(['gc', '--json'], env);
    expect(JSON.parse(gone.stdout).runs).toBeGreaterThanOrEqual(1);
    // the environment's data dir wins over the file's
    const other = join(dir, 'from-env');
    expect((await cli(['pipelines', 'list'], { ...env, B24FLOW_DATA_DIR: other })).code).toBe(0);
    expect(existsSync(join(other, 'b24flow.db'))).toBe(true);
  });

  it('refuses an invalid file with its line and field, and a missing B24FLOW_CONFIG file', async () => {
    const dir = testDir('b24flow-config-bad-');
    const cfg = join(dir, 'b24flow.config.yaml');
    writeFileSync(cfg, 'locale: en\nretention:\n  days: 3\n');
    const r = await cli(['pipelines', 'list'], { ...base, B24FLOW_CONFIG: cfg });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${cfg}:3:3`);
    expect(r.stderr).toMatch(/days/);
    const missing = await cli(['pipelines', 'list'], { ...base, B24FLOW_CONFIG: join(dir, 'nope.yaml') });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/B24FLOW_CONFIG: .*nope\.yaml does not exist/);
  });
});
