/**
 * `b24flow check` as a real process over the broken fixtures and the example pipelines: each defect is reported at
 * its exact line and column, exit code 2; every example passes.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testDir } from '../support/testRoot.js';

const root = join(import.meta.dirname, '..', '..');
const fx = 'tests/fixtures/pipelines';

function check(...files: string[]) {
  const r = spawnSync(process.execPath, ['bin/b24flow.js', 'check', ...files], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, BITRIX_WEBHOOK_URL: '', B24_CLIENT_ID: '', B24_CLIENT_SECRET: '' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const cases: [string, string][] = [
  [
    'unknown-method.yaml',
    '5:13: unknown method "crm.deal.lst" (not in the catalog) (field /steps/0/method) [unknown-method]',
  ],
  [
    'outside-packs.yaml',
    `6:13: "im.message.add" belongs to pack "comms", outside this pipeline's packs [core] (field /steps/0/method) [method-outside-packs]`,
  ],
  ['missing-param.yaml', '7:7: crm.deal.add requires fields.TITLE (field /steps/0/params/fields) [required-param]'],
  [
    'cel-type-error.yaml',
    '8:13: expression `steps.deals.result.size() > "3"`: no such overload: int > string (field /steps/1/if) [expression-type]',
  ],
  [
    'unknown-step-ref.yaml',
    '9:21: unknown step "deal" referenced (steps: deals, first) (field /steps/1/params/id) [unknown-step-ref]',
  ],
  ['cycle.yaml', '10:13: dependency cycle: a → b → a (field /steps/1/needs/0) [cycle]'],
  [
    'destructive-unattended.yaml',
    '12:13: destructive step "purge" (crm.deal.delete) in a pipeline whose triggers (schedule, event) can never confirm it (field /steps/1/method) [destructive-unconfirmable]',
  ],
];

describe('b24flow check (real process)', () => {
  it.each(cases)('%s is reported at the right position', (file, expected) => {
    const r = check(`${fx}/${file}`);
    expect(r.code).toBe(2);
    const errors = r.out.split('\n').filter((l) => l && !l.includes(': warning: '));
    expect(errors).toEqual([`${fx}/${file}:${expected}`]);
  });

  it('passes every example pipeline, with a cost estimate', () => {
    const files = readdirSync(join(root, 'pipelines'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => `pipelines/${f}`);
    expect(files.length).toBeGreaterThanOrEqual(6);
    const r = check(...files);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    for (const f of files) expect(r.out).toMatch(new RegExp(`${f}: ok — about \\d+ calls in \\d+ requests`));
  });

  it('reports schema errors at the offending key', () => {
    const dir = testDir('b24flow-check-');
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'name: x\nsteps:\n  - id: a\n    method: crm.deal.get\n    param: { id: 1 }\n');
    const r = check(file);
    expect(r.code).toBe(2);
    expect(r.out).toContain(`${file}:5:5: unknown property "param" (field /steps/0/param) [schema]`);
  });
});
