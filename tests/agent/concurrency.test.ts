import { describe, expect, it } from 'vitest';
import { runConcurrentUsers } from './support/concurrency.js';

describe('20 concurrent chat users, 10 messages each (stub planner)', () => {
  it('keeps every user in order, never crosses state, and serves users in parallel', async () => {
    const r = await runConcurrentUsers(20, 10, 10);
    expect(r.latenciesMs).toHaveLength(200);
    expect(r.orderViolations).toEqual([]);
    expect(r.crossed).toEqual([]);
    expect(r.overlapping).toBe(0);
    expect(r.maxParallelUsers).toBeGreaterThan(1);
    expect(r.wrongLastPlan).toEqual([]);
  });
});
