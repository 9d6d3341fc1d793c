/**
 * `check --items N` feeds one cost estimate: the printed cost line and the `cost` rule's operating-budget warning
 * both follow N (the rule used to re-estimate with 100 rows whatever the flag said).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const check = (...args: string[]) =>
  spawnSync(process.execPath, ['bin/b24flow.js', 'check', '--no-cache', ...args, 'tests/fixtures/check/cost.yaml'], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, BITRIX_WEBHOOK_URL: '', B24_CLIENT_ID: '', B24_CLIENT_SECRET: '' },
  });

describe('check --items', () => {
  it('drives the cost rule and the cost line alike', () => {
    const few = check('--items', '2');
    expect(few.stdout).not.toMatch(/\[cost\]/);
    expect(few.stdout).toMatch(/operating-budget risk (low|medium) \(assuming 2 rows per list\)/);
    const many = check('--items', '100');
    expect(many.stdout).toMatch(/may exhaust the operating budget.*\[cost\]/);
    expect(many.stdout).toMatch(/operating-budget risk high/);
  });
});
