/**
 * serve's service log (src/cli/serveLog.ts): pino JSON lines with `level`, `time`, `msg`, every message through the
 * one redaction of src/lib/redact.ts; with `B24FLOW_LOG_FILE` the lines also go to a file that pino-roll rotates past
 * `B24FLOW_LOG_MAX_MB`, keeping 5 earlier files, each 0600.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openServeLog } from '../../src/cli/serveLog.js';
import { MASK, registerSecret } from '../../src/lib/redact.js';
import { testDir } from '../support/testRoot.js';

/** A destination that keeps what pino writes. */
function sink(): { write(s: string): void; lines(): Record<string, unknown>[] } {
  const chunks: string[] = [];
  return {
    write: (s) => void chunks.push(s),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('serve log', () => {
  it('writes JSON lines with level, time and msg; a secret in a message is redacted', async () => {
    const out = sink();
    const log = await openServeLog({ env: {}, stderr: out, tty: false });
    registerSecret('fake-client-secret-for-tests');
    log.log('serve: listening');
    log.log(
      'call failed: https://portal.example.com/rest/1/fakewebhookcode0/crm.deal.add (auth=fake-token-for-tests) with fake-client-secret-for-tests',
    );
    log.warn('serve: stopping — lease lost');
    await log.close();
    const lines = out.lines();
    expect(lines).toHaveLength(3);
    for (const l of lines) {
      expect(typeof l.level).toBe('number');
      expect(Number.isNaN(Date.parse(String(l.time)))).toBe(false);
      expect(typeof l.msg).toBe('string');
    }
    expect(lines[0]).toMatchObject({ level: 30, msg: 'serve: listening' });
    expect(lines[2]).toMatchObject({ level: 40, msg: 'serve: stopping — lease lost' });
    const msg = String(lines[1]!.msg);
    expect(msg).toContain(`/rest/1/${MASK}/crm.deal.add`);
    expect(msg).toContain(`auth=${MASK}`);
    const raw = JSON.stringify(lines);
    for (const secret of ['fakewebhookcode0', 'fake-token-for-tests', 'fake-client-secret-for-tests'])
      expect(raw).not.toContain(secret);
  });

  it('B24FLOW_LOG_FILE: the same lines in a file rotated past B24FLOW_LOG_MAX_MB, 5 earlier files kept, 0600', async () => {
    const dir = testDir('b24flow-servelog-');
    const out = sink();
    // ~200 bytes per file: about one line each
    const env = { B24FLOW_LOG_FILE: join(dir, 'logs', 'serve.log'), B24FLOW_LOG_MAX_MB: '0.0002' };
    const log = await openServeLog({ env, stderr: out, tty: false });
    for (let i = 0; i < 20; i++) {
      log.log(`line ${i} ${'x'.repeat(100)}`);
      // pino-roll rolls after a write has drained
      await new Promise((r) => setTimeout(r, 10));
    }
    await log.close();
    expect(out.lines()).toHaveLength(20);
    const files = readdirSync(join(dir, 'logs')).sort();
    expect(files.length).toBeGreaterThan(1);
    expect(files.length).toBeLessThanOrEqual(6);
    const inFiles: string[] = [];
    for (const f of files) {
      expect(f).toMatch(/^serve\.\d+\.log$/);
      expect(statSync(join(dir, 'logs', f)).mode & 0o777).toBe(0o600);
      for (const l of readFileSync(join(dir, 'logs', f), 'utf8')
        .split('\n')
        .filter(Boolean))
        inFiles.push(String(JSON.parse(l).msg));
    }
    // the newest lines are all kept (older files beyond five were dropped)
    expect(inFiles).toContain(`line 19 ${'x'.repeat(100)}`);
  });

  it('refuses a B24FLOW_LOG_MAX_MB that is not a positive number', async () => {
    await expect(
      openServeLog({ env: { B24FLOW_LOG_FILE: '/tmp/x.log', B24FLOW_LOG_MAX_MB: 'ten' }, stderr: sink(), tty: false }),
    ).rejects.toThrow(/B24FLOW_LOG_MAX_MB must be a positive number/);
  });
});
