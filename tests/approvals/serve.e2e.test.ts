/**
 * The shipped weekly-duplicates pipeline under a real `b24flow serve` (its schedule sped up to every 2 s): the
 * scheduled run asks each record owner, asks only once while they have not decided, and the owners decide with
 * `b24flow approvals` (real processes, the sandbox over HTTP, one SQLite store).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqlApprovalStore } from '../../src/store/approvals.js';
import { openStore, type Store } from '../../src/store/index.js';
import { SqlJournal } from '../../src/store/journal.js';
import { StoreScheduleSlots } from '../../src/store/schedules.js';
import { cli, startPortal, type TestPortal } from '../pipeline/helpers.js';
import { type ServeProcess, startServe } from '../triggers/processes.js';
import { addContact, comments, contact, fastWeeklyDuplicates, plainUsers } from './helpers.js';

describe('weekly-duplicates under serve', () => {
  let p: TestPortal;
  let serve: ServeProcess | undefined;
  let store: Store;

  beforeAll(async () => {
    p = await startPortal();
  });
  afterAll(async () => {
    serve?.child.kill('SIGKILL');
    await store?.close();
    await p?.close();
  });

  it('a schedule asks each owner once; one approves, one rejects; only the approved contact changes', {
    timeout: 240_000,
  }, async () => {
    const [a, b] = (await plainUsers(p.client, 2)) as [string, string];
    const origA = await addContact(p.client, 'Anna Orig', '+7 903 500 0001', a);
    const dupA = await addContact(p.client, 'Anna Dup', '+7 903 500 0001', a);
    const dupB0 = await addContact(p.client, 'Boris Orig', '+7 903 500 0002', b);
    const dupB = await addContact(p.client, 'Boris Dup', '+7 903 500 0002', b);
    const dir = fastWeeklyDuplicates(p.dataDir);
    serve = await startServe(['--pipelines', dir], p.env);
    store = await openStore({ dataDir: p.dataDir });
    const approvals = new SqlApprovalStore(store);
    let pending = await approvals.list({ state: ['pending'] });
    for (let i = 0; i < 300 && pending.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      pending = await approvals.list({ state: ['pending'] });
    }
    expect(pending.map((x) => x.request.owner).sort()).toEqual([a, b].sort());
    const journal = new SqlJournal(store);
    const log = new StoreScheduleSlots(store);
    /** Waits until `n` more slots of the schedule have finished (slots, not wall time: CI may be slow). */
    const slots = async (n: number) => {
      const count = async () =>
        (await log.readLog({ pipeline: 'weekly-duplicates' })).filter(
          (l) => l.what !== 'started' && l.what !== 'queued',
        ).length;
      const target = (await count()) + n;
      for (let i = 0; i < 600 && (await count()) < target; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await count()).toBeGreaterThanOrEqual(target);
    };
    // two more slots fire while nobody decided: still one request per owner
    await slots(2);
    expect((await approvals.list()).length).toBe(2);
    const runs = await journal.list({ pipeline: 'weekly-duplicates' });
    expect(runs.filter((r) => r.status === 'awaiting_approval')).toHaveLength(1);
    expect((await contact(p.client, dupA)).comments ?? '').toBe('');
    const reqA = pending.find((x) => x.request.owner === a)!.request;
    const reqB = pending.find((x) => x.request.owner === b)!.request;
    const ok = await cli(['approvals', 'approve', reqA.id, '--as', a, '--hash', reqA.hash.slice(0, 8)], p.env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/applied/);
    const no = await cli(['approvals', 'reject', reqB.id, '--as', b, '--reason', 'different people'], p.env);
    expect(no.code, no.stderr).toBe(0);
    expect((await contact(p.client, dupA)).comments).toMatch(new RegExp(`^Duplicate of contact #${origA} `));
    expect((await contact(p.client, dupB)).comments ?? '').toBe('');
    expect((await contact(p.client, dupB0)).comments ?? '').toBe('');
    expect((await comments(p.client, dupA)).join('\n')).toMatch(/approved by .*pipeline weekly-duplicates/s);
    // the audit log names the request and its approver on the approved write (and on its intent line)
    const audit = readFileSync(join(p.dataDir, 'audit', 'calls.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { method: string; intent?: boolean; tags?: Record<string, string> });
    const tagged = audit.filter((l) => l.method === 'batch' || l.method === 'crm.item.update').filter((l) => l.tags);
    expect(tagged.length).toBeGreaterThan(0);
    expect(tagged.every((l) => l.tags!.approval === reqA.id && l.tags!.approvedBy === a)).toBe(true);
    expect(audit.some((l) => l.intent && l.tags?.approval === reqA.id)).toBe(true);
    // the next slots find dupA marked and b's change rejected: b is asked again (a new week, a new decision), a is not
    await slots(2);
    const again = await approvals.list({ state: ['pending'] });
    expect(again.map((x) => x.request.owner)).toEqual([b]);
    expect(serve.stderr()).not.toMatch(/failed/i);
  });
});
