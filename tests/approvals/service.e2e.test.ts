/**
 * Approval requests end to end at the service (the Telegram, HTTP and CLI fronts have their own tests): a real store
 * (SQLite, and PostgreSQL when configured), the sandbox over real HTTP. Every refusal leaves nothing recorded and
 * nothing written.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApprovalService, LoadedPipeline } from '../../src/pipeline/index.js';
import type { Store } from '../../src/store/index.js';
import { SqlJournal } from '../../src/store/journal.js';
import { startPortal, type TestPortal } from '../pipeline/helpers.js';
import { backends } from '../store/backends.js';
import {
  addContact,
  comments,
  contact,
  deletingDuplicatesPipeline,
  duplicatesPipeline,
  plainUsers,
  schedule,
  serviceOf,
} from './helpers.js';

for (const backend of backends('approvals')) {
  describe(`approval requests (${backend.name})`, () => {
    let p: TestPortal;
    let store: Store;
    let svc: ApprovalService;
    const clock = { ms: 0 };
    let users: string[];
    let phone = 0;
    /** Two contacts of `owner` sharing a new phone: [original, duplicate]. */
    const pair = async (owner: string) => {
      const ph = `+7 900 ${backend.name === 'sqlite' ? 1 : 2}00 ${String(++phone).padStart(4, '0')}`;
      return [
        await addContact(p.client, `Orig ${phone}`, ph, owner),
        await addContact(p.client, `Dup ${phone}`, ph, owner),
      ];
    };
    /** Every pending request closed, so that a test sees only its own duplicates asked. */
    const settleAll = async () => {
      for (const a of await svc.list({ state: ['pending'] }))
        await svc.reject(a.request.id, { by: a.request.approvers[0]!, via: 'cli' }).catch(() => {});
    };
    const ask = async (pipeline: LoadedPipeline, startedBy?: string) =>
      svc.ask(pipeline, { inputs: {}, trigger: schedule, ...(startedBy ? { startedBy } : {}) });

    beforeAll(async () => {
      p = await startPortal();
      store = await backend.open();
      svc = serviceOf(store, p.client, clock);
      users = await plainUsers(p.client, 3);
    });
    afterAll(async () => {
      await p?.close();
      await backend.cleanup();
    });

    it('two owners: one approves, one rejects → only the approved records change, each with a timeline comment', async () => {
      const [a, b] = users as [string, string];
      const [origA, dupA] = await pair(a);
      const [, dupB] = await pair(b);
      const asked = await ask(duplicatesPipeline());
      expect(asked.status).toBe('awaiting_approval');
      const byOwner = new Map(asked.requests.map((r) => [r.owner, r]));
      expect([...byOwner.keys()].sort()).toEqual([a, b].sort());
      const reqA = byOwner.get(a)!;
      const reqB = byOwner.get(b)!;
      expect(reqA.approvers).toEqual([a]);
      // b may not approve a's records (not an approver of that request)
      await expect(svc.approve(reqA.id, { by: b, via: 'cli' })).rejects.toMatchObject({ reason: 'not-approver' });
      const done = await svc.approve(reqA.id, { by: a, via: 'cli', hash: reqA.hash.slice(0, 8) });
      expect(done.approval.state).toBe('applied');
      expect(done.run?.status).toBe('completed');
      const rejected = await svc.reject(reqB.id, { by: b, via: 'cli', reason: 'not duplicates, two branches' });
      expect(rejected.approval.state).toBe('rejected');
      expect((await contact(p.client, dupA!)).comments).toBe(`Duplicate of contact #${origA}`);
      expect((await contact(p.client, dupB!)).comments ?? '').toBe('');
      expect((await contact(p.client, origA!)).comments ?? '').toBe('');
      const trail = await comments(p.client, dupA!);
      expect(trail).toHaveLength(1);
      expect(trail[0]).toContain(`#${a}`);
      expect(trail[0]).toContain(done.run!.runId);
      expect(trail[0]).toContain(`comments: — → "Duplicate of contact #${origA}"`);
      expect(await comments(p.client, dupB!)).toEqual([]);
      // the asking run ends partial (one group applied, one rejected) and names both outcomes
      const run = await new SqlJournal(store).get(asked.runId!);
      expect(run?.status).toBe('partial');
      expect(run?.summary?.en.join('\n')).toMatch(/: applied by run/);
      expect(run?.summary?.en.join('\n')).toMatch(/: rejected — rejected by user/);
      // the applied run names the approver
      const applied = await new SqlJournal(store).get(done.run!.runId);
      expect(applied?.trigger).toMatchObject({ kind: 'approval', approval: reqA.id, approvedBy: [a] });
      // a reused approval: the request is closed, nothing runs again
      await expect(svc.approve(reqA.id, { by: a, via: 'cli' })).rejects.toMatchObject({ reason: 'closed' });
      await expect(svc.approve(reqB.id, { by: b, via: 'cli' })).rejects.toMatchObject({ reason: 'closed' });
      expect((await contact(p.client, dupB!)).comments ?? '').toBe('');
    });

    it('an expired request changes nothing, and the run ends expired', async () => {
      const [a] = users as [string];
      const [, dup] = await pair(a);
      const asked = await ask(duplicatesPipeline());
      const req = asked.requests.find((r) => r.owner === a)!;
      clock.ms = 2 * 3600_000; // expires_in: 1h
      try {
        await expect(svc.approve(req.id, { by: a, via: 'cli' })).rejects.toMatchObject({ reason: 'expired' });
        expect((await svc.expireDue()).length).toBeGreaterThanOrEqual(0);
      } finally {
        clock.ms = 0;
      }
      expect((await svc.get(req.id))?.state).toBe('expired');
      expect((await contact(p.client, dup!)).comments ?? '').toBe('');
      expect((await new SqlJournal(store).get(asked.runId!))?.status).toBe('expired');
    });

    it('two runs asking at once store one request per change', async () => {
      await settleAll();
      const [a] = users as [string];
      await pair(a);
      const both = await Promise.all([ask(duplicatesPipeline()), ask(duplicatesPipeline())]);
      const ids = both.map((x) => x.requests.find((r) => r.owner === a)!.id);
      expect(ids[0]).toBe(ids[1]);
      expect((await svc.list({ state: ['pending'] })).filter((x) => x.request.owner === a)).toHaveLength(1);
      await settleAll();
    });

    it('a drifted request is asked again with the new content; the old one is superseded', async () => {
      await settleAll();
      const [a] = users as [string];
      const [, dup] = await pair(a);
      const asked = await ask(duplicatesPipeline());
      const req = asked.requests.find((r) => r.owner === a)!;
      // the schedule fires again (twice at once) before anyone decided: the same change is not asked again
      const twice = await Promise.all([ask(duplicatesPipeline()), ask(duplicatesPipeline())]);
      for (const t of twice) {
        expect(t.requests.map((r) => r.id).sort()).toEqual(asked.requests.map((r) => r.id).sort());
        expect(t.runId).toBe(asked.runId);
      }

      // the data changes after the request was asked: a person edits the duplicate
      const r = await p.client.call<{ item: { comments?: string } }>('crm.item.get', { entityTypeId: 3, id: dup });
      expect(r.result.item).toBeTruthy();
      await p.client.call('crm.item.update', { entityTypeId: 3, id: dup, fields: { comments: 'edited by a person' } });
      const res = await svc.approve(req.id, { by: a, via: 'cli' });
      expect(res.approval.state).toBe('superseded');
      expect(res.reasked?.supersedes).toBe(req.id);
      expect(res.reasked?.hash).not.toBe(req.hash);
      expect((await contact(p.client, dup!)).comments).toBe('edited by a person');
      // the new request is pending and applies what it shows
      const again = await svc.approve(res.reasked!.id, { by: a, via: 'cli' });
      expect(again.approval.state).toBe('applied');
      expect((await contact(p.client, dup!)).comments).toMatch(/^Duplicate of contact #/);
    });

    it('refuses self-approval, an approver without edit rights, a tampered or changed request, one button for a deletion', async () => {
      await settleAll();
      const [a, , c] = users as [string, string, string];
      const [, dup] = await pair(a);
      // self-approval: a started the run and is the only other... approver list excludes the starter
      const self = await ask(duplicatesPipeline(`users: [${a}, ${c}]`), a);
      const selfReq = self.requests[0]!;
      expect(selfReq.approvers).not.toContain(a);
      await expect(svc.approve(selfReq.id, { by: a, via: 'cli' })).rejects.toMatchObject({ reason: 'self' });
      // c is listed but may not edit a's contact (not its owner, not the head of its department, not an admin)
      await expect(svc.approve(selfReq.id, { by: c, via: 'cli' })).rejects.toMatchObject({ reason: 'no-edit-right' });
      expect((await svc.get(selfReq.id))?.decisions).toEqual([]);
      // a changed hash: the approver saw other content
      await expect(svc.approve(selfReq.id, { by: c, via: 'cli', hash: '00000000' })).rejects.toMatchObject({
        reason: 'changed',
      });
      // a row changed outside b24flow (its writes widened): the seal no longer matches
      const widened = JSON.parse(
        (
          await store.db
            .selectFrom('approvals')
            .select('request_json')
            .where('approval_id', '=', selfReq.id)
            .executeTakeFirstOrThrow()
        ).request_json,
      );
      widened.approvers.push(a);
      await sql`update approvals set request_json = ${JSON.stringify(widened)} where approval_id = ${selfReq.id}`.execute(
        store.db,
      );
      await expect(svc.approve(selfReq.id, { by: a, via: 'cli' })).rejects.toMatchObject({ reason: 'tampered' });
      expect((await contact(p.client, dup!)).comments ?? '').toBe('');
      await settleAll();
      // a deletion approved with one button: refused; with the second confirmation it runs
      const del = deletingDuplicatesPipeline();
      const asked = await ask(del);
      const req = asked.requests.find((r) => r.owner === a)!;
      expect(req.destructive).toBe(true);
      await expect(svc.approve(req.id, { by: a, via: 'cli' })).rejects.toMatchObject({ reason: 'unconfirmed' });
      expect((await svc.get(req.id))?.decisions).toEqual([]);
      expect((await contact(p.client, dup!)).comments ?? '').toBe('');
      const ok = await svc.approve(req.id, { by: a, via: 'cli', confirmDestructive: true });
      expect(ok.approval.state).toBe('applied');
      await expect(contact(p.client, dup!)).rejects.toThrow();
    });
  });
}
