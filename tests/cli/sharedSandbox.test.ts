/**
 * One embedded sandbox per data directory (src/cli/sandboxHost.ts), with real `b24flow` processes over real HTTP:
 * a record made by one process is seen by the next; a process finds the sandbox a long-lived one hosts and uses
 * its URL; processes started at the same moment share one sandbox; when the host ends, a process that used its
 * sandbox takes it over on the same URL; `serve` prints the sandbox's URL, webhook URL, application token and
 * commands that make events flow (verified by running them); a write refused while the sandbox restarts is resent.
 */
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/bitrix/connect.js';
import { startSandbox } from '../../src/sandbox/index.js';
import { testDir } from '../support/testRoot.js';
import { runCli, type ServeProcess, startServe } from '../triggers/processes.js';

const FIXTURES = join(import.meta.dirname, '..', 'triggers', 'fixtures');

/** No portal configured: every variable a developer machine or `.env` might set is blanked. */
function noPortal(dataDir: string): NodeJS.ProcessEnv {
  return {
    B24FLOW_DATA_DIR: dataDir,
    BITRIX_WEBHOOK_URL: '',
    B24_CLIENT_ID: '',
    B24_CLIENT_SECRET: '',
    B24FLOW_SANDBOX_DIR: '',
    HTTP_API_TOKENS: '',
  };
}

/** The URL a process says it uses, and the pid that hosts it when another process does. */
function notice(stderr: string): { url: string; hostPid?: number } {
  const m =
    /using the embedded sandbox portal at (http:\/\/127\.0\.0\.1:\d+) \(data in [^;)]+(?:; run by process (\d+))?\)/.exec(
      stderr,
    );
  if (!m) throw new Error(`no sandbox notice in:\n${stderr}`);
  return { url: m[1]!, ...(m[2] ? { hostPid: Number(m[2]) } : {}) };
}

async function addDeal(env: NodeJS.ProcessEnv, title: string): Promise<{ id: number; stderr: string }> {
  const r = await runCli(
    ['call', 'crm.deal.add', '--confirm-write', '-p', JSON.stringify({ fields: { TITLE: title } })],
    env,
  );
  expect(r.code, r.stderr).toBe(0);
  const id = Number(r.stdout.trim());
  expect(Number.isInteger(id) && id > 0, r.stdout).toBe(true);
  return { id, stderr: r.stderr };
}

async function dealTitle(env: NodeJS.ProcessEnv, id: number): Promise<{ title: string; stderr: string }> {
  const r = await runCli(['call', 'crm.deal.get', '-p', JSON.stringify({ id }), '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return { title: (JSON.parse(r.stdout) as { result: { TITLE: string } }).result.TITLE, stderr: r.stderr };
}

async function stop(s: ServeProcess): Promise<number | null> {
  s.child.kill('SIGTERM');
  return (await s.exited).code;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('one embedded sandbox per data directory', () => {
  it('a deal created by one process is seen by the next one (data kept in <data dir>/sandbox, private)', async () => {
    const data = join(testDir('b24flow-shsb-'), 'data');
    const env = noPortal(data);
    const first = await addDeal(env, 'made by the first process');
    // the first process hosted the sandbox itself and ended with it
    expect(notice(first.stderr).hostPid).toBeUndefined();
    const dir = join(data, 'sandbox');
    const hookPath = () => new URL(JSON.parse(readFileSync(join(dir, 'host.json'), 'utf8')).webhookUrl).pathname;
    const firstHook = hookPath();
    const second = await dealTitle(env, first.id);
    expect(second.title).toBe('made by the first process');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of ['portal.ndjson', 'host.json']) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    // the restarted sandbox keeps its credentials (and its port when it is still free)
    expect(hookPath()).toBe(firstHook);
  });

  it('a process uses the sandbox a long-lived process hosts (same URL), and serve prints how to reach it', async () => {
    const root = testDir('b24flow-shsb-');
    const data = join(root, 'data');
    const env = noPortal(data);
    const pipelines = join(root, 'pipelines');
    cpSync(join(FIXTURES, 'kill'), pipelines, { recursive: true });
    const s = await startServe(['--pipelines', pipelines, '--sync-every', '1'], env);
    let token = '';
    try {
      const hint = await waitFor(
        'the sandbox hint',
        () =>
          /b24flow serve: embedded sandbox portal at (http:\S+) \(data in ([^;\n]+);[^\n]*\n {2}webhook URL[^:]*: (\S+)\n {2}application token[^:]*: (\S+)\n(.*)\n {4}(.*)\n {4}(.*)\n/.exec(
            s.stderr(),
          ) ?? undefined,
      );
      const [, url, dir, webhookUrl, appToken, eventsLine, bindCmd, callCmd] = hint;
      expect(dir).toBe(join(data, 'sandbox'));
      expect(webhookUrl).toMatch(new RegExp(`^${url}/rest/1/[0-9a-f]+/$`));
      const rec = JSON.parse(readFileSync(join(data, 'sandbox', 'host.json'), 'utf8'));
      expect(rec.owner.pid).toBe(s.child.pid);
      expect(appToken).toBe(rec.oauthApp.applicationToken);
      token = appToken!;
      expect(eventsLine).toMatch(/ONCRMDEALADD/);
      expect(bindCmd).toBe(`B24FLOW_DATA_DIR=${data} b24flow events bind --pipelines ${pipelines}`);
      expect(callCmd).toBe(
        `B24FLOW_DATA_DIR=${data} b24flow call crm.deal.add --confirm-write -p '{"fields":{"TITLE":"Sandbox deal"}}'`,
      );

      // run the hint's commands as printed (argv split the way the shell would): the event reaches serve
      const bind = await runCli(['events', 'bind', '--pipelines', pipelines], env);
      expect(bind.code, bind.stderr).toBe(0);
      expect(notice(bind.stderr)).toEqual({ url, hostPid: s.child.pid });
      const before = (await (await fetch(`${url}/sandbox/stats`)).json()) as { byMethod: Record<string, number> };
      const deal = await addDeal(env, 'Sandbox deal');
      expect(notice(deal.stderr)).toEqual({ url, hostPid: s.child.pid });
      // the second process's write is counted by the sandbox serve hosts
      const after = (await (await fetch(`${url}/sandbox/stats`)).json()) as { byMethod: Record<string, number> };
      expect((after.byMethod['crm.deal.add'] ?? 0) - (before.byMethod['crm.deal.add'] ?? 0)).toBe(1);
      await waitFor('the event run', async () => {
        const m = await (await fetch(`${s.url}/metrics`)).text();
        return /b24flow_runs_total\{pipeline="deal-to-lead",trigger="event",status="succeeded"\} 1/.test(m)
          ? true
          : undefined;
      });
      const leads = await runCli(
        ['call', 'crm.lead.list', '-p', JSON.stringify({ filter: { ORIGIN_ID: `deal-${deal.id}` } }), '--json'],
        env,
      );
      expect(JSON.parse(leads.stdout).result).toHaveLength(1);
    } finally {
      expect(await stop(s)).toBe(0);
    }
    // the sandbox's own credentials are printed in serve's hint only
    expect(s.stderr().split(token)).toHaveLength(2);
  }, 60_000);

  it('processes started at the same moment end up on one sandbox', async () => {
    const data = join(testDir('b24flow-shsb-'), 'data');
    const env = noPortal(data);
    const n = 4;
    const made = await Promise.all(Array.from({ length: n }, (_, i) => addDeal(env, `concurrent ${i}`)));
    // two sandboxes on the same data would each hand out the same next ID
    expect(new Set(made.map((m) => m.id)).size).toBe(n);
    const list = await runCli(
      ['call', 'crm.deal.list', '-p', JSON.stringify({ filter: { '%TITLE': 'concurrent' }, select: ['ID'] }), '--json'],
      env,
    );
    expect(list.code, list.stderr).toBe(0);
    const ids = (JSON.parse(list.stdout).result as { ID: string }[]).map((r) => Number(r.ID)).sort((a, b) => a - b);
    expect(ids).toEqual(made.map((m) => m.id).sort((a, b) => a - b));
  }, 60_000);

  it('when the host ends, a process that used its sandbox takes it over on the same URL', async () => {
    const root = testDir('b24flow-shsb-');
    const data = join(root, 'data');
    const env = noPortal(data);
    const pipelines = join(root, 'pipelines');
    mkdirSync(pipelines, { recursive: true });
    writeFileSync(join(pipelines, 'me.yaml'), 'name: me\nsteps:\n  - id: me\n    method: user.current\n');
    const a = await startServe(['--pipelines', pipelines], env);
    let b: ServeProcess | undefined;
    try {
      const urlA = notice(a.stderr()).url;
      const { id } = await addDeal(env, 'before the host ended');
      // one serve per store: the second serve keeps its store in another data dir and shares only the sandbox's
      b = await startServe(['--pipelines', pipelines], {
        ...env,
        B24FLOW_DATA_DIR: join(root, 'data-b'),
        B24FLOW_SANDBOX_DIR: join(data, 'sandbox'),
      });
      expect(notice(b.stderr())).toEqual({ url: urlA, hostPid: a.child.pid });
      expect(await stop(a)).toBe(0);
      const bPid = b.child.pid;
      await waitFor('the takeover', () => (/hosts it now/.test(b!.stderr()) ? true : undefined));
      const after = await dealTitle(env, id);
      expect(notice(after.stderr)).toEqual({ url: urlA, hostPid: bPid });
      expect(after.title).toBe('before the host ended');
    } finally {
      if (a.child.exitCode === null) await stop(a);
      if (b) expect(await stop(b)).toBe(0);
    }
  }, 60_000);

  it('a write whose connection was refused is resent when the sandbox is back on its port (it never ran)', async () => {
    const root = testDir('b24flow-shsb-');
    const sbDir = join(root, 'sandbox');
    const first = await startSandbox({ dataDir: sbDir, plan: 'unlimited', quiet: true, size: 5 });
    const port = Number(new URL(first.baseUrl).port);
    await first.close();
    const conn = await connect(
      { webhookUrl: first.webhookUrl, dataDir: join(root, 'data'), limiter: { drain: 1000, burst: 1000 } },
      { audit: false },
    );
    try {
      const pending = conn.client.call<number>('crm.deal.add', {
        fields: { TITLE: 'sent while the sandbox was down' },
      });
      await new Promise((r) => setTimeout(r, 300));
      const again = await startSandbox({ dataDir: sbDir, port, plan: 'unlimited', quiet: true });
      try {
        const res = await pending;
        expect(Number(res.result)).toBeGreaterThan(0);
        expect((await again.admin.stats()).byMethod['crm.deal.add']).toBe(1);
        expect(conn.client.stats().retries).toBeGreaterThan(0);
      } finally {
        await again.close();
      }
    } finally {
      await conn.close();
    }
  });
});
