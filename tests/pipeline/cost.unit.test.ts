/**
 * The operating-budget part of the cost estimate: waits from a sliding 10-minute window, the budget already spent,
 * and the measured cost per call (the bench `npm run bench -- cost` compares the estimate with a real paced run).
 */
import { describe, expect, it } from 'vitest';
import { operatingWait } from '../../src/pipeline/cost.js';

describe('operatingWait', () => {
  const base = { limit: 10, windowS: 600, now: 1000 };

  it('is 0 when the need fits what is left of the budget', () => {
    expect(operatingWait(4, { ...base, spent: 5, resetAt: 1300 })).toBe(0);
    expect(operatingWait(50, { ...base, limit: 0, spent: 0, resetAt: 0 })).toBe(0);
  });

  it('waits whole windows for what is beyond the budget', () => {
    // nothing spent: 10 now, 10 a window later, the last 5 a window after that
    expect(operatingWait(25, { ...base, spent: 0, resetAt: 1000 })).toBe(1200);
  });

  it('counts the budget already spent: it returns between its reset time and a window from now', () => {
    expect(operatingWait(5, { ...base, spent: 0, resetAt: 1000 })).toBe(0);
    // the spent 10 s return in ten slices from 1060 to 1600: the fifth is back at 1300
    const spent = operatingWait(5, { ...base, spent: 10, resetAt: 1060 });
    expect(spent).toBe(300);
    // spent later (it resets later): a longer wait
    expect(operatingWait(5, { ...base, spent: 10, resetAt: 1500 })).toBeGreaterThan(spent);
    // all of it back only a window from now
    expect(operatingWait(10, { ...base, spent: 10, resetAt: 1060 })).toBe(600);
  });
});
