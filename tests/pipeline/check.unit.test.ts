import { describe, expect, it } from 'vitest';
import { checkPipeline } from '../../src/pipeline/check/index.js';
import { loadPipelineText } from '../../src/pipeline/load.js';
import { testCatalog } from './testCatalog.js';

const check = (yaml: string, portal?: Parameters<typeof checkPipeline>[1]['portal']) =>
  checkPipeline(loadPipelineText(yaml, 'p.yaml'), { catalog: testCatalog, portal }).map(
    (f) => `${f.line}:${f.col} ${f.rule} ${f.severity} ${f.message}`,
  );

describe('checker rules (in-memory catalog)', () => {
  it('accepts a well-formed pipeline', () => {
    const out = check(`name: ok
inputs:
  days: { type: int, default: 14 }
steps:
  - id: deals
    method: crm.deal.list
    all: true
    params:
      filter: { "<DATE_MODIFY": "\${{ isoDateTime(daysAgo(inputs.days)) }}" }
  - id: tasks
    foreach: \${{ steps.deals.result }}
    method: tasks.task.add
    idempotency_key: \${{ "t-" + string(item.ID) }}
    params:
      fields:
        TITLE: { $template: "Follow up {{ item.TITLE }}" }
        RESPONSIBLE_ID: \${{ item.ASSIGNED_BY_ID }}
`);
    expect(out).toEqual([]);
  });

  it('reports each defect at its line and column', () => {
    const out = check(`name: bad
packs: [core]
steps:
  - id: a
    method: crm.deal.lst
  - id: b
    method: sale.order.list
  - id: c
    method: crm.deal.add
    params:
      fields: { OPPORTUNITY: 5 }
  - id: d
    method: crm.deal.list
    if: \${{ steps.b.result.size() > "3" }}
  - id: e
    method: crm.deal.get
    needs: [zz]
    params: { id: 1 }
  - id: f
    method: crm.deal.get
    params: { id: "\${{ steps.g.result }}" }
  - id: g
    method: crm.deal.get
    params: { id: "\${{ steps.f.result }}" }
  - id: w
    foreach: \${{ steps.d.result }}
    method: crm.deal.update
    params: { id: "\${{ item.ID }}", fields: { STAGE_ID: WON }, bogus: 1 }
`);
    expect(out).toContain('5:13 unknown-method error unknown method "crm.deal.lst" (not in the catalog)');
    expect(out.find((l) => l.startsWith('7:13 method-outside-packs'))).toBeDefined();
    expect(out.find((l) => l.startsWith('11:7 required-param'))).toContain('fields.TITLE');
    expect(out.find((l) => l.startsWith('14:13 expression-type'))).toContain('no such overload');
    expect(out.find((l) => l.startsWith('17:13 unknown-step-ref'))).toContain('"zz"');
    expect(out.find((l) => l.includes(' cycle '))).toBe('24:30 cycle error dependency cycle: f → g → f');
    expect(out.find((l) => l.startsWith('26:14 foreach-idempotency'))).toBeDefined();
    expect(out.find((l) => l.includes('param-type') && l.includes('bogus'))).toMatch(/^28:64 /);
  });

  it('refuses destructive steps when every trigger is unattended, and app-only methods on a webhook', () => {
    const out = check(
      `name: d
triggers:
  - schedule: { cron: "0 3 * * *", approve: [write] }
steps:
  - id: x
    method: crm.deal.delete
    params: { id: 1 }
  - id: y
    method: placement.bind
`,
      { auth: 'webhook', scopes: ['crm'] },
    );
    expect(out[0]).toMatch(/^6:13 destructive-unconfirmable error .*can never confirm it/);
    expect(out.find((l) => l.startsWith('9:13 app-auth'))).toBeDefined();
    expect(out.find((l) => l.startsWith('9:13 scope'))).toContain('placement');
  });

  it('insists on templates instead of partial interpolation', () => {
    const out = check(`name: t
steps:
  - id: a
    method: crm.deal.add
    params: { fields: { TITLE: "Deal \${{ inputs.x }}" } }
`);
    expect(out.find((l) => l.includes('partial-interpolation'))).toMatch(/^5:32 /);
  });
});

describe('check-reads-only rule', () => {
  it('refuses checks that look at writes', () => {
    const out = check(`name: c
checks:
  - condition: \${{ steps.add.result != null }}
    message: x
steps:
  - id: add
    method: crm.deal.add
    params: { fields: { TITLE: t } }
`);
    expect(out).toContain('3:26 check-reads-only error checks run before any write, but "add" writes');
  });
});

describe('trigger rule', () => {
  it('reports bad cron expressions and time zones', () => {
    const out = check(`name: t
timezone: Mars/Olympus
triggers:
  - schedule: { cron: "61 * * * *", timezone: Europe/Moscow }
  - schedule: { cron: "0 9 * * 1-5", timezone: Nowhere/City }
steps:
  - id: d
    method: crm.deal.list
`);
    expect(out).toEqual([
      '2:11 trigger error unknown time zone "Mars/Olympus" (IANA name, e.g. Europe/Moscow)',
      '4:23 trigger error invalid cron expression "61 * * * *"',
      '5:48 trigger error unknown time zone "Nowhere/City"',
    ]);
  });
});
