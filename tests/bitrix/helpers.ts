/** Shared helpers for the client tests: the sandbox over real HTTP and its control endpoints. */
import { request } from 'undici';
import { type SandboxHandle, type SandboxOptions, startSandbox } from '../../src/sandbox/index.js';
import { testDir } from '../support/testRoot.js';

/** The sandbox handle the client tests use. */
export type Sandbox = SandboxHandle;

/** Starts a sandbox portal: small data set, no rate limits unless `opts` say otherwise. */
export async function sandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  return startSandbox({ quiet: true, size: 'small', plan: 'unlimited', ...opts });
}

/** Calls a control endpoint under /sandbox/* (GET without body, POST with). */
export async function admin(sb: Sandbox, path: string, body?: unknown): Promise<any> {
  const res = await request(`${sb.baseUrl}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  if (res.statusCode >= 400) throw new Error(`sandbox ${path}: HTTP ${res.statusCode} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Server-side counters of the sandbox. */
export async function stats(sb: Sandbox): Promise<{
  requests: number;
  byMethod: Record<string, number>;
  status: Record<string, number>;
  writes: Record<string, number>;
}> {
  return admin(sb, '/sandbox/stats');
}

/** A fresh temporary directory. */
export function tmp(prefix = 'b24flow-client-'): string {
  return testDir(prefix);
}

/** The secret code of a webhook URL. */
export function webhookCode(url: string): string {
  const m = /\/rest\/\d+\/([^/]+)/.exec(url);
  if (!m) throw new Error('not a webhook url');
  return m[1]!;
}
