import { describe, expect, it } from 'vitest';
import { ConcurrencyRefused, RunLanes } from '../../src/triggers/concurrency.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('run lanes (pipeline concurrency)', () => {
  it('queue runs one after the other; fail refuses while busy; cancel aborts the running one', async () => {
    const lanes = new RunLanes();
    const order: string[] = [];
    let active = 0;
    let peak = 0;
    const job = (name: string) => async (signal: AbortSignal) => {
      active++;
      peak = Math.max(peak, active);
      order.push(`start ${name}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 30);
        signal.addEventListener('abort', () => {
          clearTimeout(t);
          order.push(`abort ${name}`);
          resolve();
        });
      });
      active--;
      order.push(`end ${name}`);
    };
    await Promise.all([
      lanes.run('p', 'queue', job('a')),
      lanes.run('p', 'queue', job('b')),
      lanes.run('p', 'queue', job('c')),
    ]);
    expect(peak).toBe(1);
    expect(order).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);

    order.length = 0;
    const first = lanes.run('q', 'fail', job('x'));
    await tick();
    await expect(lanes.run('q', 'fail', job('y'))).rejects.toBeInstanceOf(ConcurrencyRefused);
    await first;
    expect(order).toEqual(['start x', 'end x']);

    order.length = 0;
    const old = lanes.run('r', 'cancel', job('old'));
    await tick();
    await lanes.run('r', 'cancel', job('new'));
    await old;
    expect(order).toEqual(['start old', 'abort old', 'end old', 'start new', 'end new']);
    expect(lanes.busy('r')).toBe(false);
  });
});
