/**
 * `b24flow console` (a real process over the sandbox portal and a fresh store): prints a one-time sign-in link for
 * `--as`, the link opens a session once, and the session sees the pipelines of `--pipelines`.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { root, startPortal, type TestPortal } from '../pipeline/helpers.js';

describe('b24flow console', () => {
  let p: TestPortal;
  beforeAll(async () => {
    p = await startPortal();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('prints a one-time link for --as that signs in once and shows the pipelines', async () => {
    const child = spawn(process.execPath, ['bin/b24flow.js', 'console', '--port', '0', '--as', '1'], {
      cwd: root,
      env: p.env,
    });
    try {
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      for (let i = 0; i < 300 && !/console\/link\/\S+/.test(out); i++) await new Promise((r) => setTimeout(r, 50));
      const link = /(http:\/\/\S+\/console\/link\/\S+)/.exec(out)?.[1];
      expect(link, out).toBeTruthy();
      const base = link!.replace(/\/console\/link\/.*/, '');
      expect((await fetch(`${base}/console`, { redirect: 'manual' })).status).toBe(303);
      const signed = await fetch(link!, { redirect: 'manual' });
      expect(signed.status).toBe(303);
      const cookie = signed.headers.get('set-cookie')!.split(';')[0]!;
      expect(signed.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
      const home = await fetch(`${base}/console`, { headers: { cookie } });
      expect(home.status).toBe(200);
      const text = await home.text();
      expect(text).toContain('weekly-duplicates');
      expect(text).toContain('Bitrix24 user #1');
      expect((await fetch(link!, { redirect: 'manual' })).status).toBe(401);
    } finally {
      child.kill('SIGTERM');
    }
  });
});
