import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunRequest } from '../../src/triggers/dispatcher.js';
import { parseBracketForm } from '../../src/triggers/online.js';
import { startTriggerService, type TriggerService } from '../../src/triggers/service.js';
import type { RestCaller } from '../../src/triggers/types.js';
import { pipelineFromYaml, storesFor, tempDir } from './helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const MEMBER = 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4';
const TOKEN = 'f00dfeedf00dfeedf00dfeedf00dfeed';

function form(o: Record<string, string>): string {
  return new URLSearchParams(o).toString();
}

function dealAdd(id: string, token: string | undefined, ts = '1766047124'): string {
  return form({
    event: 'ONCRMDEALADD',
    event_handler_id: '185',
    'data[FIELDS][ID]': id,
    ts,
    'auth[domain]': 'example.bitrix24.com',
    'auth[member_id]': MEMBER,
    ...(token !== undefined ? { 'auth[application_token]': token } : {}),
  });
}

/** POST with node:http so that huge bodies and aborted uploads behave like a real client. */
function post(
  url: string,
  body: string | Buffer,
  type = 'application/x-www-form-urlencoded',
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}/bitrix/events`,
      { method: 'POST', headers: { 'content-type': type, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      // the server may close the socket while a huge body is still being written; the answer is what counts
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') resolve({ status: 413, text: 'closed' });
      else reject(err);
    });
    req.end(body);
  });
}

async function service(): Promise<{ svc: TriggerService; runs: RunRequest[]; logs: string[] }> {
  const t = tempDir();
  cleanups.push(t.cleanup);
  const p = await pipelineFromYaml(
    t.dir,
    'on-deal',
    `name: on-deal
triggers:
  - event: { events: [ONCRMDEALADD], approve: [write] }
steps:
  - id: deal
    method: crm.deal.get
    params: { id: "\${{ inputs.event.objectId }}" }
`,
  );
  const runs: RunRequest[] = [];
  const logs: string[] = [];
  const client = { call: async () => ({ result: null }) } as unknown as RestCaller;
  const svc = await startTriggerService({
    client,
    pipelines: [p],
    dataDir: t.dir,
    stores: await storesFor(t.dir),
    tokens: new Map([[MEMBER, TOKEN]]),
    offline: false,
    run: async (req) => {
      runs.push(req);
      return { ok: true, status: 'succeeded', runId: `run-${runs.length}` };
    },
    log: (l) => logs.push(l),
  });
  cleanups.push(() => svc.close(1000));
  return { svc, runs, logs };
}

describe('POST /bitrix/events', () => {
  it('parses PHP-bracket forms', () => {
    expect(parseBracketForm('event=X&data[FIELDS][ID]=7&data[LIST][]=a&data[LIST][]=b&auth[member_id]=m')).toEqual({
      event: 'X',
      data: { FIELDS: { ID: '7' }, LIST: ['a', 'b'] },
      auth: { member_id: 'm' },
    });
    expect(() => parseBracketForm('data[FIELDS=1')).toThrow();
    expect(() => parseBracketForm('data[__proto__][x]=1')).toThrow();
  });

  it('rejects forged events (wrong token, no token, unknown portal, malformed, 10 MB) with a log line; none reaches a pipeline', async () => {
    const { svc, runs, logs } = await service();
    const wrong = await post(svc.url, dealAdd('11', 'not-the-token'));
    const none = await post(svc.url, dealAdd('12', undefined));
    const otherPortal = await post(svc.url, dealAdd('13', TOKEN).replace(MEMBER, 'ffff'));
    const malformed = await post(svc.url, 'event=ONCRMDEALADD&data[FIELDS[ID]=1&auth[application_token]=x');
    const badJson = await post(svc.url, '{"event": "ONCRMDEALADD", ', 'application/json');
    const huge = await post(svc.url, `event=ONCRMDEALADD&data[X]=${'a'.repeat(10 * 1024 * 1024)}`);
    expect([wrong.status, none.status, otherPortal.status, malformed.status, badJson.status]).toEqual([
      401, 401, 401, 401, 401,
    ]);
    expect(huge.status).toBe(413);
    await new Promise((r) => setTimeout(r, 50));
    expect(runs).toHaveLength(0);
    const rejected = logs.filter((l) => l.startsWith('online event rejected'));
    expect(rejected.map((l) => /\((\d+ [a-z-]+)\)/.exec(l)?.[1])).toEqual([
      '401 wrong-token',
      '401 no-token',
      '401 unknown-portal',
      '401 malformed',
      '401 malformed',
      '413 too-large',
    ]);
    // tokens never reach the log
    expect(logs.join('\n')).not.toContain('not-the-token');
    expect(logs.join('\n')).not.toContain(TOKEN);
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/b24flow_events_rejected_total\{reason="wrong-token"\} 1/);
    expect(metrics).toMatch(/b24flow_events_rejected_total\{reason="too-large"\} 1/);
  });

  it('accepts a genuine event, answers at once, runs the pipeline with the event as input, and runs a repeated delivery once', async () => {
    const { svc, runs } = await service();
    const a = await post(svc.url, dealAdd('7405', TOKEN));
    expect(a.status).toBe(200);
    const again = await post(svc.url, dealAdd('7405', TOKEN));
    expect(again.status).toBe(200);
    for (let i = 0; i < 50 && runs.length < 1; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 50));
    expect(runs).toHaveLength(1);
    expect(runs[0]!.inputs).toMatchObject({
      event: { name: 'ONCRMDEALADD', objectId: '7405', data: { FIELDS: { ID: '7405' } }, source: 'online' },
    });
    expect(runs[0]!.confirmWrite).toBe(true);
    expect(runs[0]!.trigger).toMatchObject({ kind: 'event', event: { name: 'ONCRMDEALADD', objectId: '7405' } });
    const health = (await (await fetch(`${svc.url}/healthz`)).json()) as Record<string, unknown>;
    expect(health).toMatchObject({ status: 'ok', pipelines: 1, events: ['ONCRMDEALADD'] });
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/b24flow_runs_total\{pipeline="on-deal",trigger="event",status="succeeded"\} 1/);
    expect(metrics).toMatch(/b24flow_events_processed_total\{source="online",result="duplicate"\} 1/);
    expect(metrics).toMatch(/^b24flow_dlq_entries 0$/m);
  });
});
