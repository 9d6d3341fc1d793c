/**
 * Approval requests over the HTTP API (keys bound to Bitrix24 users with `key@<id>`) and the command line
 * (`b24flow approvals list|show|approve|reject`, a real child process on the same store), against the sandbox.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiRoutes } from '../../src/adapters/http/api.js';
import { type HttpServerHandle, startHttpServer } from '../../src/lib/http.js';
import type { ApprovalService } from '../../src/pipeline/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { makeAgent } from '../agent/support/setup.js';
import { stubEngine } from '../agent/support/stubEngine.js';
import { cli, startPortal, type TestPortal } from '../pipeline/helpers.js';
import { addContact, contact, duplicatesPipeline, plainUsers, schedule, serviceOf } from './helpers.js';

const KEY_A = 'key-of-a-0123456789abcdef';
const KEY_C = 'key-of-c-0123456789abcdef';
const KEY_NOBODY = 'key-unbound-0123456789abcdef';

describe('approval requests over HTTP and the CLI', () => {
  let p: TestPortal;
  let store: Store;
  let svc: ApprovalService;
  let srv: HttpServerHandle;
  let a: string;
  let c: string;
  let phone = 0;
  const pair = async (owner: string) => {
    const ph = `+7 902 400 ${String(++phone).padStart(4, '0')}`;
    return [
      await addContact(p.client, `Orig ${phone}`, ph, owner),
      await addContact(p.client, `Dup ${phone}`, ph, owner),
    ];
  };
  const call = (method: string, path: string, key: string | null, body?: unknown) =>
    fetch(`${srv.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', ...(key ? { 'x-api-key': key } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  beforeAll(async () => {
    p = await startPortal();
    store = await openStore({ dataDir: p.dataDir });
    svc = serviceOf(store, p.client);
    [a, , c] = (await plainUsers(p.client, 3)) as [string, string, string];
    srv = await startHttpServer({
      routes: apiRoutes({
        agent: makeAgent(stubEngine()),
        tokens: [KEY_A, KEY_C, KEY_NOBODY],
        keyUsers: new Map([
          [KEY_A, a],
          [KEY_C, c],
        ]),
        approvals: svc,
      }),
    });
  });
  afterAll(async () => {
    await srv?.close();
    await p?.close();
    await store?.close();
  });

  it('lists, refuses unbound keys and non-approvers, approves once, and refuses a reused approval', async () => {
    const [orig, dup] = await pair(a);
    const asked = await svc.ask(duplicatesPipeline(), { inputs: {}, trigger: schedule });
    const req = asked.requests.find((r) => r.owner === a)!;
    expect((await call('GET', '/approvals', null)).status).toBe(401);
    const list = (await (await call('GET', '/approvals', KEY_NOBODY)).json()) as { approvals: { id: string }[] };
    expect(list.approvals.map((x) => x.id)).toContain(req.id);
    const one = (await (await call('GET', `/approvals/${req.id}`, KEY_NOBODY)).json()) as {
      approval: { lines: string[]; hash: string };
    };
    expect(one.approval.lines.join('\n')).toContain(`#${dup}`);
    const unbound = await call('POST', `/approvals/${req.id}/approve`, KEY_NOBODY, {});
    expect(unbound.status).toBe(403);
    expect(((await unbound.json()) as { error: string }).error).toBe('APPROVAL_NO_USER');
    const notApprover = await call('POST', `/approvals/${req.id}/approve`, KEY_C, {});
    expect(notApprover.status).toBe(403);
    expect(((await notApprover.json()) as { error: string }).error).toBe('APPROVAL_NOT_APPROVER');
    expect((await contact(p.client, dup!)).comments ?? '').toBe('');
    const ok = await call('POST', `/approvals/${req.id}/approve`, KEY_A, { hash: one.approval.hash.slice(0, 12) });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { approval: { state: string }; run: { status: string } };
    expect(body.approval.state).toBe('applied');
    expect(body.run.status).toBe('completed');
    expect((await contact(p.client, dup!)).comments).toBe(`Duplicate of contact #${orig}`);
    const again = await call('POST', `/approvals/${req.id}/approve`, KEY_A, {});
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toBe('APPROVAL_CLOSED');
    for (const r of asked.requests.filter((x) => x.owner !== a))
      await svc.reject(r.id, { by: r.approvers[0]!, via: 'cli' });
  });

  it('b24flow approvals: list, show, a refused decision (exit 2, nothing written), then reject with a reason', async () => {
    const [, dup] = await pair(a);
    const asked = await svc.ask(duplicatesPipeline(), { inputs: {}, trigger: schedule });
    const req = asked.requests.find((r) => r.owner === a)!;
    const list = await cli(['approvals', 'list'], p.env);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(req.id);
    const show = await cli(['approvals', 'show', req.id], p.env);
    expect(show.stdout).toMatch(new RegExp(`Contact .*#${dup}`, 'i'));
    const refused = await cli(['approvals', 'approve', req.id, '--as', c], p.env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/is not an approver/);
    expect((await contact(p.client, dup!)).comments ?? '').toBe('');
    const rejected = await cli(
      ['approvals', 'reject', req.id, '--as', a, '--reason', 'same person, two phones'],
      p.env,
    );
    expect(rejected.code).toBe(0);
    expect(rejected.stdout).toMatch(/rejected/);
    expect((await svc.get(req.id))?.decisions[0]).toMatchObject({
      by: a,
      reason: 'same person, two phones',
      via: 'cli',
    });
    expect((await contact(p.client, dup!)).comments ?? '').toBe('');
  });
});
