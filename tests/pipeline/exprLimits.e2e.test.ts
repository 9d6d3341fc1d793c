/**
 * Expression bounds through real YAML pipelines and the real CLI against the sandbox portal: a deal title from the
 * portal cannot make `matches` backtrack, an expensive comprehension stops with the budget error instead of running
 * for minutes, and `check` refuses the provably quadratic one. The CLI child is killed after a timeout, so the
 * unbounded evaluator fails these tests instead of hanging them.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDir } from '../support/testRoot.js';
import { cli, startPortal, type TestPortal } from './helpers.js';

let p: TestPortal;
let dir: string;
beforeAll(async () => {
  p = await startPortal({ size: 20, seed: 5 });
  dir = testDir('b24flow-expr-limits-');
});
afterAll(async () => {
  await p?.close();
});

function pipeline(name: string, yaml: string): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, yaml);
  return file;
}

describe('expression bounds in pipelines', () => {
  it('a 40-character deal title cannot make matches() backtrack (RE2)', async () => {
    const first = (await p.client.call<{ ID: string }[]>('crm.deal.list', { order: { ID: 'ASC' }, select: ['ID'] }))
      .result[0]!;
    await p.client.call('crm.deal.update', { id: first.ID, fields: { TITLE: `${'a'.repeat(39)}!` } });
    const file = pipeline(
      'title-pattern',
      `name: title-pattern
packs: [core]
steps:
  - id: deals
    method: crm.deal.list
    params:
      select: [ID, TITLE]
      order: { ID: ASC }
  - id: tagged
    foreach: \${{ steps.deals.result.filter(d, d.TITLE.matches("(a+)+$")) }}
    method: crm.timeline.comment.add
    idempotency_key: \${{ "tagged-" + string(item.ID) }}
    params:
      fields: { ENTITY_ID: "\${{ item.ID }}", ENTITY_TYPE: deal, COMMENT: Title ends in a }
`,
    );
    const t = performance.now();
    const r = await cli(['plan', file, '--json'], p.env, { timeoutMs: 30_000 });
    expect(r.signal).toBeNull();
    expect(r.stderr + r.code).toBe('0');
    expect(performance.now() - t).toBeLessThan(20_000);
    const plan = JSON.parse(r.stdout) as { writes: unknown[] };
    expect(plan.writes).toEqual([]); // "aaa…a!" does not end in a
  });

  it('an expensive comprehension stops with the budget error, naming the expression and the limit', async () => {
    // the inner list comes from the outer element (linear-looking), so check lets it through; it is triangular
    const file = pipeline(
      'triangle',
      `name: triangle
packs: [core]
inputs:
  n: { type: int, default: 100000, description: List size }
steps:
  - id: deals
    if: \${{ seq(inputs.n).map(i, seq(i).filter(j, j % 2 == 0).size()).size() > 0 }}
    method: crm.deal.list
    params:
      select: [ID]
`,
    );
    const t = performance.now();
    const r = await cli(['run', file], p.env, { timeoutMs: 45_000 });
    expect(r.signal).toBeNull();
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain(
      '`seq(inputs.n).map(i, seq(i).filter(j, j % 2 == 0).size()).size() > 0`: expression exceeded 1,000,000 comprehension iterations (per-expression limit)',
    );
    expect(performance.now() - t).toBeLessThan(30_000);
  });

  it('check refuses a nested comprehension over unbounded lists and a non-RE2 pattern', async () => {
    const file = pipeline(
      'quadratic',
      `name: quadratic
packs: [core]
inputs:
  n: { type: int, default: 100000, description: List size }
steps:
  - id: deals
    method: crm.deal.list
    all: true
    params:
      select: [ID, TITLE]
  - id: note
    foreach: \${{ steps.deals.result.filter(d, seq(inputs.n).exists(j, j == int(d.ID)) && d.TITLE.matches("^(?!Test)")) }}
    method: crm.timeline.comment.add
    idempotency_key: \${{ "note-" + string(item.ID) }}
    params:
      fields: { ENTITY_ID: "\${{ item.ID }}", ENTITY_TYPE: deal, COMMENT: Reviewed }
`,
    );
    const r = await cli(['check', file], p.env, { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('`exists` over `seq(inputs.n)` runs once per element of `filter`');
    expect(r.stdout).toContain('invalid RE2 regular expression "^(?!Test)"');
    expect(r.stdout.match(/\[expression-cost\]/g)).toHaveLength(2);
  });
});
