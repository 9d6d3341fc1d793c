/**
 * `b24flow call` and `b24flow export` as real processes against the sandbox, and the promise that no secret
 * (webhook code, access/refresh token, client secret) reaches stdout, stderr or the audit log.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAudit } from '../../src/bitrix/audit.js';
import { tokensFromAnswer } from '../../src/bitrix/auth/oauth.js';
import { PortalRegistry } from '../../src/bitrix/auth/registry.js';
import { MemoryTokenStore } from '../../src/bitrix/auth/tokenStore.js';
import { B24Client } from '../../src/bitrix/client.js';
import { redactDeep } from '../../src/bitrix/redact.js';
import { B24Error } from '../../src/bitrix/restErrors.js';
import { admin, type Sandbox, sandbox, tmp, webhookCode } from './helpers.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'b24flow.js');
let sb: Sandbox;
let dataDir: string;

/** Runs the CLI as a real process (async: the sandbox lives in this process). */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: dataDir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: dataDir,
        B24FLOW_DATA_DIR: dataDir,
        BITRIX_WEBHOOK_URL: sb.webhookUrl,
        B24_PLAN: 'enterprise',
        ...env,
      },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

beforeAll(async () => {
  sb = await sandbox({ plan: 'unlimited' });
  dataDir = tmp('b24flow-cli-');
});
afterAll(async () => {
  await sb?.close();
});

describe('b24flow call / export', () => {
  it('runs reads, refuses unconfirmed writes and destructive calls, and refuses methods outside the packs', async () => {
    const read = await cli(['call', 'crm.deal.list', '--params', '{"select":["ID","TITLE"],"filter":{"<=ID":3}}']);
    expect(read.code).toBe(0);
    expect(JSON.parse(read.out)).toHaveLength(3);

    const write = await cli(['call', 'crm.deal.add', '--params', '{"fields":{"TITLE":"cli"}}']);
    expect(write.code).toBe(2);
    expect(write.err).toMatch(/--confirm-write/);
    const confirmed = await cli(['call', 'crm.deal.add', '--params', '{"fields":{"TITLE":"cli"}}', '--confirm-write']);
    expect(confirmed.code).toBe(0);
    expect(Number(JSON.parse(confirmed.out))).toBeGreaterThan(0);

    const del = await cli(['call', 'crm.deal.delete', '--params', '{"id":1}', '--confirm-write']);
    expect(del.code).toBe(2);
    expect(del.err).toMatch(/--confirm-destructive/);

    const outside = await cli([
      'call',
      'im.message.add',
      '--params',
      '{"DIALOG_ID":"1","MESSAGE":"hi"}',
      '--confirm-write',
    ]);
    expect(outside.code).toBe(2);
    expect(outside.err).toMatch(/pack "comms"/);

    const bad = await cli(['call', 'crm.deal.list', '--params', '{nope']);
    expect(bad.code).toBe(2);
  });

  it('exports a list to JSONL with a one-line summary', async () => {
    const file = join(dataDir, 'deals.jsonl');
    const r = await cli(['export', 'crm.deal.list', '--select', 'ID,TITLE', '--filter', '{"<=ID":120}', '--out', file]);
    expect(r.code).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(120);
    expect(new Set(lines.map((l) => JSON.parse(l).ID)).size).toBe(120);
    expect(r.out).toMatch(/exported 120 rows of crm\.deal\.list .*: \d+ requests, [\d.]+ s, \d+ rows\/s/);
  });
});

describe('no secret in any captured output', () => {
  it('keeps the webhook code out of stdout, stderr and the audit log — also on failures', async () => {
    const code = webhookCode(sb.webhookUrl);
    const wrong = sb.webhookUrl.replace(code, `${code.slice(0, -3)}zzz`);
    const runs = [
      await cli(['call', 'crm.deal.list', '--params', '{"filter":{"<=ID":2}}', '--json']),
      await cli(['call', 'crm.deal.list', '--json'], { BITRIX_WEBHOOK_URL: wrong }),
      await cli(['call', 'crm.deal.get', '--params', '{"id":999999999}']),
    ];
    expect(runs[1]!.code).toBe(1);
    expect(runs[1]!.err).toMatch(/NO_AUTH_FOUND|auth/i);
    const audit = join(dataDir, 'audit', 'calls.jsonl');
    expect(existsSync(audit)).toBe(true);
    const captured = [...runs.flatMap((r) => [r.out, r.err]), readFileSync(audit, 'utf8')].join('\n');
    expect(captured).not.toContain(code);
    expect(captured).not.toContain(`${code.slice(0, -3)}zzz`);
    // the audit keeps parameter names only
    const lines = readFileSync(audit, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.some((l) => l.method === 'crm.deal.list' && l.keys.includes('filter'))).toBe(true);
    const read = lines.find((l) => l.method === 'crm.deal.list' && l.ok);
    expect(read).toMatchObject({ risk: 'read', status: 200, portal: new URL(sb.baseUrl).host });
    expect(typeof read.ms).toBe('number');
    expect(lines.find((l) => !l.ok && l.method === 'crm.deal.list')).toMatchObject({
      code: 'NO_AUTH_FOUND',
      status: 401,
    });
    expect(readFileSync(audit, 'utf8')).not.toContain('999999999');
  });

  it('keeps OAuth tokens and the client secret out of errors and audit records', async () => {
    const audit = new MemoryAudit();
    const registry = new PortalRegistry(
      { clientId: sb.oauthApp.clientId, clientSecret: sb.oauthApp.clientSecret },
      new MemoryTokenStore(),
    );
    const t = tokensFromAnswer(await sb.oauthApp.install());
    await registry.install(t);
    const client = new B24Client({ auth: registry.auth(t.member_id), audit, limiter: { drain: 1000, burst: 10000 } });
    await admin(sb, '/sandbox/tokens/expire', {});
    await client.call('crm.deal.list', { select: ['ID'] });
    let err: unknown;
    try {
      await client.call('crm.deal.get', { id: 999_999_999, auth: t.access_token });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(B24Error);
    const stored = (await registry.store.get(t.member_id))!;
    const captured = JSON.stringify([audit.records, redactDeep(err), String(err), (err as Error).stack]);
    for (const secret of [
      t.access_token,
      t.refresh_token,
      stored.access_token,
      stored.refresh_token,
      sb.oauthApp.clientSecret,
    ])
      expect(captured).not.toContain(secret);
    await client.close();
  });
});
