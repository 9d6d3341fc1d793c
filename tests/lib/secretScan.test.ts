/**
 * The suite-wide secret scan (tests/support/secretScan.ts, run by tests/globalSetup.ts over the run's test root)
 * must be able to fail: planted secrets in a plain log, a JSONL journal and a gzip archive are each found with
 * their file and line. The planted files live outside the test root and are removed, so the run's scan stays clean.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { formatHits, scanForSecrets } from '../support/secretScan.js';
import { SECRETS_DIR, TEST_ROOT_ENV, testRoot } from '../support/testRoot.js';

const dir = mkdtempSync(join(tmpdir(), 'b24flow-scan-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('secret scan', () => {
  const code = 'plantedwebhookcode0123';
  const token = 'planted-access-token-4567';

  it('finds planted secrets in logs, journals and gzip archives, naming file and line', () => {
    mkdirSync(join(dir, 'agent', 'logs'), { recursive: true });
    mkdirSync(join(dir, 'journal'), { recursive: true });
    writeFileSync(join(dir, 'serve.log'), `ok\nPOST /rest/1/${code}/crm.deal.add\n`);
    writeFileSync(join(dir, 'journal', 'run.jsonl'), `{"a":1}\n{"b":2}\n{"auth":"${token}"}\n`);
    writeFileSync(join(dir, 'agent', 'logs', 'u1.1.jsonl.gz'), gzipSync(`{"x":1}\n{"text":"${code}"}\n`));
    writeFileSync(join(dir, 'clean.log'), 'nothing here ***\n');
    const hits = scanForSecrets([dir], [code, token, 'short']);
    const where = hits.map((h) => `${h.file.slice(dir.length + 1)}:${h.line}`).sort();
    expect(where).toEqual(['agent/logs/u1.1.jsonl.gz:2', 'journal/run.jsonl:3', 'serve.log:2']);
    const msg = formatHits(hits, dir);
    expect(msg).toContain('serve.log:2: contains secret plan…');
    expect(msg).not.toContain(code); // the report itself never prints a whole secret
  });

  it('skips the secrets drop directory and finds nothing in clean files', () => {
    mkdirSync(join(dir, SECRETS_DIR), { recursive: true });
    writeFileSync(join(dir, SECRETS_DIR, 'w.json'), JSON.stringify([code]));
    expect(scanForSecrets([join(dir, SECRETS_DIR)], [code])).toHaveLength(1);
    expect(scanForSecrets([dir], [code], { skip: new Set([SECRETS_DIR, 'serve.log', 'agent']) })).toEqual([]);
  });

  it('the run has one test root that the helpers write under', () => {
    expect(process.env[TEST_ROOT_ENV]).toBeTruthy();
    expect(testRoot()).toBe(process.env[TEST_ROOT_ENV]);
  });
});
