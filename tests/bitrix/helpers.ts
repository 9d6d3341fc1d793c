/** Shared helpers for the client tests: the sandbox over real HTTP and its control endpoints. */
import { request } from 'undici';
import { testDir } from '../support/testRoot.js';

/** The subset of the sandbox handle the client tests use. */
export interface Sandbox {
  webhookUrl: string;
  baseUrl: string;
  caFile?: string;
  oauthApp: {
    clientId: string;
    clientSecret: string;
    memberId: string;
    domain: string;
    applicationToken: string;
    install(): Promise<Record<string, any>>;
  };
  close(): Promise<void>;
}

/** Starts a sandbox portal (dynamic import so this file type-checks while the sandbox is being written). */
export async function sandbox(opts: Record<string, unknown> = {}): Promise<Sandbox> {
  const spec = '../../src/sandbox/index.js';
  const mod = (await import(spec)) as { startSandbox(o: Record<string, unknown>): Promise<Sandbox> };
  return mod.startSandbox({ quiet: true, size: 'small', plan: 'unlimited', ...opts });
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
