/**
 * The audit log's size cap (src/bitrix/audit.ts): past `maxBytes` `calls.jsonl` is renamed to `calls.1.jsonl` (the
 * older ones shifted up, the oldest dropped past `keep`) between two synchronous lines, so no line is lost or split —
 * also with two sinks on one file (serve's default portal client and its further portals' clients) — and every file
 * stays 0600.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AuditRecord, FileAudit } from '../../src/bitrix/audit.js';
import { testDir } from '../support/testRoot.js';

const rec = (i: number, intent = false): AuditRecord => ({
  ts: new Date(0).toISOString(),
  portal: 'p',
  method: `crm.deal.add`,
  risk: 'write',
  status: intent ? 0 : 200,
  ok: true,
  ms: 1,
  keys: ['fields'],
  attempt: i,
  ...(intent ? { intent: true } : {}),
});

/** Every line of the audit files, oldest file first. */
function readAll(dir: string): { attempt: number; intent?: boolean }[] {
  const files = readdirSync(dir)
    .map((f) => ({ f, n: /^calls\.(\d+)\.jsonl$/.exec(f)?.[1] }))
    .sort((a, b) => (b.n === undefined ? -1 : a.n === undefined ? 1 : Number(b.n) - Number(a.n)))
    .map((x) => x.f);
  const out: { attempt: number; intent?: boolean }[] = [];
  for (const f of files) {
    expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    const text = readFileSync(join(dir, f), 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    for (const l of text.split('\n').filter(Boolean)) out.push(JSON.parse(l));
  }
  return out;
}

describe('audit rotation', () => {
  it('two sinks on one file, intent and outcome lines: every line kept once, in order, across the rotations', async () => {
    const dir = join(testDir('b24flow-audit-'), 'audit');
    const path = join(dir, 'calls.jsonl');
    const a = new FileAudit(path, { maxBytes: 2000, keep: 100 });
    const b = new FileAudit(path, { maxBytes: 2000, keep: 100 });
    const N = 300;
    for (let i = 0; i < N; i++) {
      const sink = i % 3 === 0 ? b : a;
      sink.intent(rec(i, true));
      sink.write(rec(i));
    }
    await a.close();
    await b.close();
    expect(existsSync(a.rotatedPath(1))).toBe(true);
    for (const f of readdirSync(dir)) {
      const size = statSync(join(dir, f)).size;
      expect(size, f).toBeLessThanOrEqual(2000);
    }
    const lines = readAll(dir);
    expect(lines).toHaveLength(2 * N);
    lines.forEach((l, k) => {
      expect(l.attempt).toBe(Math.floor(k / 2));
      expect(!!l.intent).toBe(k % 2 === 0);
    });
  });

  it('keeps `keep` rotated files, dropping the oldest', async () => {
    const dir = join(testDir('b24flow-audit-'), 'audit');
    const audit = new FileAudit(join(dir, 'calls.jsonl'), { maxBytes: 500, keep: 2 });
    for (let i = 0; i < 100; i++) audit.write(rec(i));
    await audit.close();
    expect(readdirSync(dir).sort()).toEqual(['calls.1.jsonl', 'calls.2.jsonl', 'calls.jsonl']);
    const lines = readAll(dir);
    // the newest lines, contiguous up to the last one
    expect(lines.at(-1)!.attempt).toBe(99);
    expect(lines.map((l) => l.attempt)).toEqual(lines.map((_, k) => 99 - (lines.length - 1) + k));
  });
});
