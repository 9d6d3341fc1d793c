import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LinkCodes } from '../../src/agent/links.js';
import { tempDataDir } from '../agent/support/setup.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'b24flow.js');

function cli(args: string[], env: Record<string, string>, cwd: string) {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(TELEGRAM_|OPENAI_|BITRIX_|B24_|HTTP_API_)/.test(k)),
  );
  return spawnSync(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, cwd, encoding: 'utf8' });
}

describe('b24flow bot (real process)', () => {
  it('link-code issues a one-time code the agent redeems once', async () => {
    const dir = tempDataDir();
    const r = cli(['bot', 'link-code', '--bitrix-user', '9', '--json'], { B24FLOW_DATA_DIR: dir }, dir);
    expect(r.status, r.stderr).toBe(0);
    const { code } = JSON.parse(r.stdout) as { code: string };
    expect(code).toMatch(/^\d{8}$/);
    const links = new LinkCodes(dir);
    expect(await links.redeem(code)).toBe('9');
    expect(await links.redeem(code)).toBeUndefined();
  });

  it('refuses to start without TELEGRAM_BOT_TOKEN (exit 2) and rejects a bad user id', () => {
    const dir = tempDataDir();
    const r = cli(['bot'], { B24FLOW_DATA_DIR: dir }, dir);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/TELEGRAM_BOT_TOKEN is not set/);
    const bad = cli(['bot', 'link-code', '--bitrix-user', 'admin'], { B24FLOW_DATA_DIR: dir }, dir);
    expect(bad.status).toBe(2);
  });
});
