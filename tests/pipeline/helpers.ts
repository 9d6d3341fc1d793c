/**
 * Test helpers: a sandbox portal in the test process, the CLI as a real child process (async, so the in-process
 * sandbox keeps answering), and a webhook client for asserting CRM state over HTTP.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { B24Client, tokensFromAnswer, WebhookAuth } from '../../src/bitrix/index.js';
import { type SandboxHandle, type SandboxOptions, startSandbox } from '../../src/sandbox/index.js';
import { storeTokens } from '../support/storedTokens.js';
import { testDir } from '../support/testRoot.js';

export const root = join(import.meta.dirname, '..', '..');

/** A started sandbox with a webhook client and a fresh data dir for the CLI. */
export interface TestPortal {
  sb: SandboxHandle;
  client: B24Client;
  dataDir: string;
  env: NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/** Starts a sandbox (unlimited plan, quiet) and a webhook client to it. */
export async function startPortal(opts: SandboxOptions = {}): Promise<TestPortal> {
  const sb = await startSandbox({ plan: 'unlimited', operatingLimit: 0, quiet: true, ...opts });
  const client = new B24Client({
    auth: new WebhookAuth(sb.webhookUrl),
    audit: false,
    limiter: { drain: 1000, burst: 100000 },
  });
  const dataDir = testDir('b24flow-pipeline-');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    BITRIX_WEBHOOK_URL: sb.webhookUrl,
    B24_CLIENT_ID: '',
    B24_CLIENT_SECRET: '',
    B24FLOW_DATA_DIR: dataDir,
    B24FLOW_LANG: 'en',
    B24_PLAN: 'enterprise',
  };
  return {
    sb,
    client,
    dataDir,
    env,
    close: async () => {
      await client.close();
      await sb.close();
    },
  };
}

/** Installs the sandbox's OAuth app and returns env for a child that must use app auth (event.*). */
export async function appEnv(p: TestPortal): Promise<NodeJS.ProcessEnv> {
  const tokens = tokensFromAnswer((await p.sb.oauthApp.install()) as unknown as Record<string, unknown>);
  await storeTokens(p.dataDir, tokens);
  return {
    ...p.env,
    BITRIX_WEBHOOK_URL: '',
    B24_CLIENT_ID: p.sb.oauthApp.clientId,
    B24_CLIENT_SECRET: p.sb.oauthApp.clientSecret,
  };
}

/** Runs `node bin/b24flow.js ...args` and collects its output. */
export function cli(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { timeoutMs?: number } = {},
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/b24flow.js', ...args], { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Every row of a list method through the client's keyset iterator. */
export async function all<T = Record<string, unknown>>(
  client: B24Client,
  method: string,
  params: Record<string, unknown> = {},
): Promise<T[]> {
  const out: T[] = [];
  for await (const row of client.list<T>(method, params)) out.push(row);
  return out;
}
