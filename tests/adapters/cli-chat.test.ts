import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../../src/sandbox/index.js';
import { openStore } from '../../src/store/index.js';
import { StoreLinks } from '../../src/store/links.js';
import { FakeTelegram } from '../agent/support/fakeTelegram.js';
import { codeIn, tempDataDir } from '../agent/support/setup.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'b24flow.js');

function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(TELEGRAM_|OPENAI_|BITRIX_|B24_|HTTP_API_|B24FLOW_DATABASE_URL|B24FLOW_OPERATORS)/.test(k),
    ),
  );
  return { ...clean, ...env };
}

function cli(args: string[], env: Record<string, string>, cwd: string) {
  return spawnSync(process.execPath, [BIN, ...args], { env: cleanEnv(env), cwd, encoding: 'utf8' });
}

/** `cli` without blocking this process: the sandbox the child talks to runs here. */
function cliAsync(
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(env), cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

describe('b24flow bot (real process)', () => {
  let sandbox: Awaited<ReturnType<typeof startSandbox>>;
  beforeAll(async () => {
    sandbox = await startSandbox({ plan: 'unlimited', quiet: true, size: 20 });
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('link-code checks the user on the portal and sends the code to their notifications, not to stdout', async () => {
    const dir = tempDataDir();
    const env = { B24FLOW_DATA_DIR: dir, BITRIX_WEBHOOK_URL: sandbox.webhookUrl };
    const before = (await sandbox.admin.notifications(9)).length;
    const r = await cliAsync(['bot', 'link-code', '--bitrix-user', '9', '--chat-user', 'tg:5005'], env, dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^code sent to .+ via Bitrix24 notification\n$/);
    const notes = await sandbox.admin.notifications(9);
    expect(notes).toHaveLength(before + 1);
    expect(notes.at(-1)!.MESSAGE).toMatch(/chat user tg:5005 asks to be linked/);
    const code = codeIn(notes.at(-1)!.MESSAGE)!;
    expect(code).toMatch(/^\d{8}$/);
    expect(r.stdout + r.stderr).not.toContain(code);

    const json = await cliAsync(
      ['bot', 'link-code', '--bitrix-user', '9', '--chat-user', 'tg:5006', '--json'],
      env,
      dir,
    );
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ chatUserId: 'tg:5006', bitrixUserId: '9', sentTo: { id: '9' } });

    const store = await openStore({ dataDir: dir });
    try {
      const links = new StoreLinks(store);
      const portal = new URL(sandbox.webhookUrl).host;
      expect(await links.redeem('tg:5006', code, portal)).toEqual({ refused: 'other-user' });
      expect(await links.redeem('tg:5005', code, portal)).toEqual({ bitrixUserId: '9' });
      expect(await links.redeem('tg:5005', code, portal)).toEqual({ refused: 'unknown' });
      expect(await links.chatsOf('9', portal)).toEqual(['tg:5005']);
    } finally {
      await store.close();
    }
  });

  it('link-code refuses a user the portal does not have, and bad ids (exit 2), sending nothing', async () => {
    const dir = tempDataDir();
    const env = { B24FLOW_DATA_DIR: dir, BITRIX_WEBHOOK_URL: sandbox.webhookUrl };
    const before = (await sandbox.admin.notifications()).length;
    const unknown = await cliAsync(['bot', 'link-code', '--bitrix-user', '987654', '--chat-user', 'tg:1'], env, dir);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/no active Bitrix24 user 987654/);
    expect(cli(['bot', 'link-code', '--bitrix-user', 'admin', '--chat-user', 'tg:1'], env, dir).status).toBe(2);
    expect(cli(['bot', 'link-code', '--bitrix-user', '9'], env, dir).status).toBe(2);
    expect(await sandbox.admin.notifications()).toHaveLength(before);
  });

  it('refuses to start without TELEGRAM_BOT_TOKEN, and without TELEGRAM_ALLOWED_CHATS (exit 2)', () => {
    const dir = tempDataDir();
    const r = cli(['bot'], { B24FLOW_DATA_DIR: dir }, dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/TELEGRAM_BOT_TOKEN is not set/);
    const open = cli(['bot'], { B24FLOW_DATA_DIR: dir, TELEGRAM_BOT_TOKEN: '1:fake' }, dir);
    expect(open.status).toBe(2);
    expect(open.stderr).toMatch(/TELEGRAM_ALLOWED_CHATS is not set.*TELEGRAM_ALLOW_ALL_CHATS=1/);
  });

  it('serves every chat with TELEGRAM_ALLOW_ALL_CHATS=1, after a loud warning', async () => {
    const dir = tempDataDir();
    const tg = new FakeTelegram();
    await tg.start();
    const child = spawn(process.execPath, [BIN, 'bot', '--pipelines', join(dir, 'pipelines')], {
      cwd: dir,
      env: cleanEnv({
        B24FLOW_DATA_DIR: dir,
        BITRIX_WEBHOOK_URL: sandbox.webhookUrl,
        TELEGRAM_BOT_TOKEN: tg.token,
        TELEGRAM_API_ROOT: tg.apiRoot,
        TELEGRAM_ALLOW_ALL_CHATS: '1',
      }),
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 300 && !/bot: running/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
      expect(stderr).toMatch(/bot: WARNING serving every chat/);
      expect(stderr).toMatch(/bot: running/);
      tg.sendText(777001, '/status');
      expect((await tg.waitFor(777001, () => true, 0, 20_000)).text).toMatch(/Not linked/);
    } finally {
      child.kill('SIGTERM');
      await exited;
      await tg.close();
    }
  });
});
