/**
 * `b24flow sandbox` as a real process: exactly one stdout line BITRIX_WEBHOOK_URL=… when ready (+ SANDBOX_CA_FILE
 * with --tls), logs on stderr, clean exit on SIGTERM, exit 2 on bad flags.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
});

function start(args: string[]) {
  const child = spawn(process.execPath, [join(root, 'bin', 'b24flow.js'), 'sandbox', ...args], { cwd: root });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const lines = (n: number) =>
    new Promise<string[]>((resolve, reject) => {
      const check = () => {
        const l = stdout.split('\n').filter(Boolean);
        if (l.length >= n) resolve(l);
      };
      child.stdout.on('data', check);
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
      check();
    });
  const exit = () =>
    new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (c) => r(c))));
  return { child, lines, exit, out: () => stdout, err: () => stderr };
}

describe('b24flow sandbox (process)', () => {
  it('--size 10000 prints exactly one BITRIX_WEBHOOK_URL line, serves it, stops on SIGTERM', async () => {
    const t0 = performance.now();
    const p = start(['--size', '10000', '--plan', 'unlimited']);
    const [line] = await p.lines(1);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`sandbox --size 10000 printed its URL after ${seconds.toFixed(2)} s (process start included)`);
    expect(line).toMatch(/^BITRIX_WEBHOOK_URL=http:\/\/127\.0\.0\.1:\d+\/rest\/1\/[0-9a-f]{16}\/$/);
    const url = line!.slice('BITRIX_WEBHOOK_URL='.length);
    const r = (await fetch(`${url}crm.deal.list?select[]=ID`).then((x) => x.json())) as any;
    expect(r.total).toBe(10000);
    p.child.kill('SIGTERM');
    expect(await p.exit()).toBe(0);
    expect(p.out().trim().split('\n')).toHaveLength(1);
    expect(p.err()).toMatch(/ready in \d+ ms/);
    expect(p.err()).not.toContain(url.split('/').at(-2)!);
  });

  it('--tls prints SANDBOX_CA_FILE and serves HTTPS trusted by that CA', async () => {
    const p = start(['--tls', '--size', '20', '--quiet']);
    const [hook, ca] = await p.lines(2);
    expect(hook).toMatch(/^BITRIX_WEBHOOK_URL=https:\/\/127\.0\.0\.1:\d+\/rest\/1\/[0-9a-f]+\/$/);
    expect(ca).toMatch(/^SANDBOX_CA_FILE=/);
    const dispatcher = new Agent({ connect: { ca: readFileSync(ca!.slice('SANDBOX_CA_FILE='.length), 'utf8') } });
    const url = hook!.slice('BITRIX_WEBHOOK_URL='.length);
    const res = (await undiciFetch(`${url}user.current`, { dispatcher }).then((x) => x.json())) as any;
    expect(res.result.ID).toBe('1');
    await dispatcher.close();
    p.child.kill('SIGINT');
    expect(await p.exit()).toBe(0);
  });

  it('bad flags exit with code 2 and print nothing on stdout', async () => {
    const p = start(['--plan', 'gold']);
    expect(await p.exit()).toBe(2);
    expect(p.out()).toBe('');
    expect(p.err()).toMatch(/--plan/);
  });
});
