/**
 * `b24flow check` never blocks on a portal that does not answer: the scope read gives up after its timeout and the
 * scope rules are skipped (said on stderr), or use the scopes cached for that portal host (said too).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDir } from '../support/testRoot.js';

const root = join(import.meta.dirname, '..', '..');

function check(env: NodeJS.ProcessEnv, cwd: string): Promise<{ code: number | null; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(root, 'bin', 'b24flow.js'), 'check', 'p.yaml'], {
      cwd,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, ms: Date.now() - started }));
  });
}

describe('check with a portal that never answers', () => {
  let server: Server;
  const sockets: Socket[] = [];
  let url = '';
  beforeAll(async () => {
    // accepts connections and never answers
    server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    url = `http://127.0.0.1:${port}/rest/1/abcdef0123456789/`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  const setup = () => {
    const dir = testDir('b24flow-scope-');
    writeFileSync(
      join(dir, 'p.yaml'),
      'name: p\npacks: [core]\nsteps:\n  - id: deals\n    method: crm.deal.list\n    params: { select: [ID] }\n',
    );
    return dir;
  };

  it('finishes within the timeout and says scope rules were skipped', async () => {
    const dir = setup();
    const r = await check({ BITRIX_WEBHOOK_URL: url, B24FLOW_DATA_DIR: join(dir, 'data') }, dir);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.stderr).toMatch(/did not answer within 3 s\); scope rules skipped/);
    expect(r.stderr).not.toContain('abcdef0123456789');
  }, 20_000);

  it('uses the scopes cached for the portal host and says so', async () => {
    const dir = setup();
    const data = join(dir, 'data');
    mkdirSync(data, { recursive: true });
    const host = new URL(url).host;
    const at = new Date().toISOString();
    writeFileSync(join(data, 'scope-cache.json'), JSON.stringify({ [host]: { scopes: ['crm'], at } }), {
      mode: 0o600,
    });
    const r = await check({ BITRIX_WEBHOOK_URL: url, B24FLOW_DATA_DIR: data }, dir);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.stderr).toContain(`scope rules use the scopes cached at ${at}`);
    expect(statSync(join(data, 'scope-cache.json')).mode & 0o777).toBe(0o600);
  }, 20_000);
});
