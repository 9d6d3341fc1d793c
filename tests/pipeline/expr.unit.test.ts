import { describe, expect, it } from 'vitest';
import {
  checkExpression,
  collectExpressions,
  Evaluator,
  formatDateTime,
  MAX_EXPR_LENGTH,
  startOfDay,
} from '../../src/pipeline/expr.js';
import { normalizePhone } from '../../src/pipeline/exprDuplicates.js';

/** `${{ body }}` without writing the sequence literally (lint). */
const X = (body: string) => `$\u007B{ ${body} }}`;

const scope = { inputs: { days: 'int' }, steps: { deals: { result: 'list<map>', outputs: [] } }, env: [] };

describe('expressions', () => {
  it('whole-field expressions are typed, templates are text, literals stay literals', () => {
    const ev = new Evaluator({ timezone: 'Europe/Moscow', now: Date.UTC(2026, 0, 31, 22, 30) });
    const ctx = ev.context({ inputs: { days: 3, name: 'A&B' }, steps: {} });
    expect(ev.resolve(X('inputs.days + 1'), ctx)).toBe(4);
    expect(ev.resolve({ $template: 'n={{ inputs.days }} {{ inputs.name }}' }, ctx)).toBe('n=3 A&B');
    expect(ev.resolve(`plain $\u007Bx} {{ y }}`, ctx)).toBe(`plain $\u007Bx} {{ y }}`);
    expect(ev.resolve([X('[1, 2]'), { a: X('inputs.name') }], ctx)).toEqual([[1, 2], { a: 'A&B' }]);
    // date math in the portal's zone: 22:30 UTC on Jan 31 is already Feb 1 in Moscow
    expect(ev.resolve(X('isoDate(now)'), ctx)).toBe('2026-02-01');
    expect(ev.resolve(X('isoDateTime(startOfDay(now))'), ctx)).toBe('2026-02-01T00:00:00+03:00');
    expect(ev.resolve(X('daysAgo(1)'), ctx)).toBe('2026-01-31T01:30:00+03:00');
  });

  it('normalises phones and finds duplicates', () => {
    expect(normalizePhone('8 (912) 345-67-89')).toBe('+79123456789');
    expect(normalizePhone('+7 912 345 67 89')).toBe('+79123456789');
    expect(normalizePhone('9123456789')).toBe('+79123456789');
    expect(normalizePhone('+44 20 7946 0958')).toBe('+442079460958');
    const ev = new Evaluator();
    const ctx = ev.context({
      inputs: {},
      steps: {
        c: {
          result: [
            { ID: '1', PHONE: [{ VALUE: '8 912 345-67-89' }] },
            { ID: '2', PHONE: [{ VALUE: '+79123456789' }], EMAIL: [{ VALUE: 'A@x.org' }] },
            { ID: '3', EMAIL: [{ VALUE: 'a@x.org ' }] },
          ],
          outputs: {},
        },
      },
    });
    expect(ev.resolve(X('duplicateGroups(steps.c.result)'), ctx)).toEqual([
      { by: 'phone', value: '+79123456789', ids: ['1', '2'] },
      { by: 'email', value: 'a@x.org', ids: ['2', '3'] },
    ]);
    // each duplicate once, with the oldest record it shares a value with
    expect(ev.resolve(X('duplicatePairs(steps.c.result).map(p, [p.id, p.of, p.by, p.value])'), ctx)).toEqual([
      ['2', '1', 'phone', '+79123456789'],
      ['3', '2', 'email', 'a@x.org'],
    ]);
    expect(ev.resolve(X('duplicatePairs(steps.c.result)[1].record.ID'), ctx)).toBe('3');
    // crm.item rows: `id` and multifields in `fm`
    const items = ev.context({
      inputs: {},
      steps: {
        c: {
          result: [
            { id: 7, fm: [{ typeId: 'PHONE', value: '+7 900 000-00-01' }] },
            {
              id: 5,
              fm: [
                { typeId: 'PHONE', value: '89000000001' },
                { typeId: 'EMAIL', value: 'x@y.ru' },
              ],
            },
          ],
          outputs: {},
        },
      },
    });
    expect(ev.resolve(X('duplicatePairs(steps.c.result).map(p, [p.id, p.of, p.value])'), items)).toEqual([
      ['7', '5', '+79000000001'],
    ]);
  });

  it('type-checks statically and caps length and nesting', () => {
    expect(checkExpression('steps.deals.result.size() > inputs.days', scope)).toEqual({ valid: true, type: 'bool' });
    const bad = checkExpression('inputs.days + "x"', scope);
    expect(bad.valid).toBe(false);
    expect(checkExpression('x'.repeat(MAX_EXPR_LENGTH + 1), scope)).toMatchObject({ valid: false });
    const nested = checkExpression(
      'steps.deals.result.all(a, steps.deals.result.all(b, steps.deals.result.all(c, true)))',
      scope,
    );
    expect(nested).toMatchObject({ valid: false, message: expect.stringContaining('nested 3 deep') });
  });

  it('refuses evaluations whose estimated cost is too high', () => {
    const ev = new Evaluator();
    const ctx = ev.context({ inputs: {}, steps: {} });
    expect(() => ev.evaluate('seq(5).all(a, seq(5).all(b, a + b >= 0))', ctx, 1_000_000)).toThrow(/too expensive/);
    expect(ev.evaluate('seq(5).all(a, seq(5).all(b, a + b >= 0))', ctx, 5)).toBe(true);
  });

  it('collects expressions with their paths and offsets', () => {
    expect(collectExpressions({ a: [`$\u007B{  x }}`, { $template: 'v {{ y }}' }] }, ['params'])).toEqual([
      { expr: 'x', path: ['params', 'a', 0], offset: 5, kind: 'expression' },
      { expr: 'y', path: ['params', 'a', 1, '$template'], offset: 5, kind: 'template' },
    ]);
    expect(formatDateTime(startOfDay(new Date(Date.UTC(2026, 5, 1, 12)), 'America/New_York'), 'America/New_York')).toBe(
      '2026-06-01T00:00:00-04:00',
    );
  });
});
