import { describe, expect, it } from 'vitest';
import { guardClient, isWriteMethod, OwnWrites } from '../../src/triggers/loopGuard.js';

describe('loop guard', () => {
  it('adds auth_connector to writes (also inside batch) and never to reads', async () => {
    const seen: { method: string; params: any }[] = [];
    const client = {
      async call(method: string, params?: any) {
        seen.push({ method, params });
        return { result: method.endsWith('.add') ? 77 : [] };
      },
      async batch(cmds: Record<string, { method: string; params: any }>) {
        for (const c of Object.values(cmds)) seen.push(c);
        return { results: { a: 78, b: true } };
      },
    };
    const own = new OwnWrites();
    const g = guardClient(client, { authConnector: 'b24flow', own });
    await g.call('crm.deal.list', { filter: {} });
    await g.call('crm.deal.add', { fields: { TITLE: 'x' } });
    await g.call('crm.deal.update', { id: 5, fields: {} });
    await g.batch({
      a: { method: 'crm.lead.add', params: { fields: {} } },
      b: { method: 'crm.deal.get', params: { id: 1 } },
    });
    expect(seen.map((s) => [s.method, s.params.auth_connector ?? null])).toEqual([
      ['crm.deal.list', null],
      ['crm.deal.add', 'b24flow'],
      ['crm.deal.update', 'b24flow'],
      ['crm.lead.add', 'b24flow'],
      ['crm.deal.get', null],
    ]);
    const now = Math.floor(Date.now() / 1000);
    expect(own.isOwn('ONCRMDEALADD', '77', now)).toBe(true);
    expect(own.isOwn('ONCRMDEALUPDATE', '5', now)).toBe(true);
    expect(own.isOwn('ONCRMLEADADD', '78', now)).toBe(true);
    // someone else's change of the same deal well before our write is not ours; another deal is not ours
    expect(own.isOwn('ONCRMDEALUPDATE', '5', now - 10)).toBe(false);
    expect(own.isOwn('ONCRMDEALUPDATE', '6', now)).toBe(false);
    expect(isWriteMethod('event.bind')).toBe(false);
    expect(isWriteMethod('tasks.task.complete')).toBe(true);
  });
});
