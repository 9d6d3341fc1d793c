/**
 * What `serve`, `events` and `dlq` share: loading a pipelines directory (refusing invalid pipelines by name),
 * connecting with application auth when possible, and the application tokens for online event verification.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Finding, formatFinding, InvalidInputError } from '../lib/failures.js';
import type { TriggerPipeline } from './dispatcher.js';
import type { InstallVerifier } from './install.js';
import type { PortalTokens } from './online.js';
import { collectSchedules } from './scheduler.js';

/**
 * Loads and checks every `*.yaml`/`*.yml` pipeline in `dir` (schema, checker rules, schedules).
 * @throws InvalidInputError naming each invalid pipeline file with its findings (file:line:col), or when `dir`
 *   cannot be read
 */
export async function loadPipelinesDir(dir: string, opts: { check?: boolean } = {}): Promise<TriggerPipeline[]> {
  let names: string[];
  try {
    names = readdirSync(dir)
      .filter((n) => /\.ya?ml$/i.test(n))
      .sort();
  } catch (err) {
    throw new InvalidInputError(
      `${dir}: cannot read the pipelines directory (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const { loadPipelineFile } = await import('../pipeline/load.js');
  const out: TriggerPipeline[] = [];
  const findings: Finding[] = [];
  const bad = new Set<string>();
  for (const n of names) {
    const file = join(dir, n);
    try {
      const loaded = await loadPipelineFile(file);
      out.push({ name: loaded.pipeline.name, file, def: loaded.pipeline, loaded });
    } catch (err) {
      if (!(err instanceof InvalidInputError)) throw err;
      bad.add(file);
      if (err.findings.length) findings.push(...err.findings);
      else findings.push({ file, line: 1, col: 1, field: '', message: err.message, rule: 'load', severity: 'error' });
    }
  }
  if (opts.check !== false && out.length) {
    let checker: ((files: string[]) => Promise<Finding[]>) | undefined;
    try {
      const { checkFiles, defaultCatalog } = await import('../pipeline/index.js');
      const catalog = await defaultCatalog();
      checker = async (files) => (await checkFiles(files, { catalog })).findings;
    } catch {
      checker = undefined;
    }
    if (checker) {
      const fs = await checker(out.map((p) => p.file));
      for (const f of fs) {
        if (f.severity !== 'error') continue;
        findings.push(f);
        bad.add(f.file);
      }
    }
  }
  for (const p of out) {
    try {
      collectSchedules([p], process.env.B24FLOW_TZ ?? 'UTC');
    } catch (err) {
      bad.add(p.file);
      findings.push({
        file: p.file,
        line: 1,
        col: 1,
        field: '/triggers',
        message: (err as Error).message,
        rule: 'schedule',
        severity: 'error',
      });
    }
  }
  const names2 = new Map<string, string>();
  for (const p of out) {
    const prev = names2.get(p.name);
    if (prev) {
      bad.add(p.file);
      findings.push({
        file: p.file,
        line: 1,
        col: 1,
        field: '/name',
        message: `pipeline name ${p.name} is also used by ${prev}`,
        rule: 'duplicate-name',
        severity: 'error',
      });
    }
    names2.set(p.name, p.file);
  }
  if (bad.size) {
    throw new InvalidInputError(
      `invalid pipeline${bad.size > 1 ? 's' : ''}: ${[...bad].join(', ')}\n${findings.map(formatFinding).join('\n')}`,
      findings,
    );
  }
  return out;
}

/** A connection whose client can use application-only methods when the portal allows it. */
export interface AppConnection {
  client: any;
  /** `oauth` when the client has an application context. */
  kind: 'webhook' | 'oauth';
  /** Application tokens per portal (online event verification). */
  tokens: PortalTokens;
  /** Verifies ONAPPINSTALL of a new portal and stores its tokens (when an OAuth app is configured). */
  verifyInstall?: InstallVerifier;
  sandbox?: { baseUrl: string; webhookUrl: string; [k: string]: unknown };
  close(): Promise<void>;
}

/**
 * Connects like every command (`connect()` of src/bitrix). With the embedded sandbox (no configuration), installs
 * the sandbox's OAuth application and returns an application-context client for it, so that offline events work
 * on a fresh machine. Application tokens come from the token store (`application_token` saved at install) and from
 * `B24_APPLICATION_TOKEN` (+ `B24_MEMBER_ID`).
 * @throws what `connect()` throws
 */
export async function connectApp(
  opts: { env?: NodeJS.ProcessEnv; sandbox?: Record<string, unknown> } = {},
): Promise<AppConnection> {
  const env = opts.env ?? process.env;
  const { connect, registryFor } = await import('../bitrix/connect.js');
  const conn = await connect({ env, ...(opts.sandbox ? { sandbox: opts.sandbox } : {}) });
  const tokens: PortalTokens = new Map();
  if (env.B24_APPLICATION_TOKEN) tokens.set(env.B24_MEMBER_ID ?? '', env.B24_APPLICATION_TOKEN);
  const sb = conn.sandbox as (AppConnection['sandbox'] & { oauthApp?: any }) | undefined;
  if (sb?.oauthApp && typeof sb.oauthApp.install === 'function') {
    const { MemoryTokenStore } = await import('../bitrix/auth/tokenStore.js');
    const { tokensFromAnswer } = await import('../bitrix/auth/oauth.js');
    const { clientForPortal } = await import('../bitrix/connect.js');
    const answer = await sb.oauthApp.install();
    const t = tokensFromAnswer(answer as Record<string, unknown>);
    const store = new MemoryTokenStore();
    const registry = registryFor({ clientId: sb.oauthApp.clientId, clientSecret: sb.oauthApp.clientSecret }, store);
    await registry.install(t);
    // pace like the connection's client: a default (standard-plan) limiter would throttle the app to 2 req/s
    const client = clientForPortal(registry, t.member_id, { audit: false, limiter: conn.limiter ?? {} });
    tokens.set(t.member_id, t.application_token ?? sb.oauthApp.applicationToken);
    const { appInstallVerifier } = await import('./install.js');
    return {
      client,
      kind: 'oauth',
      tokens,
      verifyInstall: appInstallVerifier(registry, { tokenUrl: new URL('/oauth/token/', sb.baseUrl).toString() }),
      sandbox: sb,
      close: async () => {
        await client.close();
        await conn.close();
      },
    };
  }
  let verifyInstall: InstallVerifier | undefined;
  if (conn.client.portal.kind === 'oauth' && env.B24_CLIENT_ID) {
    try {
      const { FileTokenStore } = await import('../bitrix/auth/tokenStore.js');
      const { join: j } = await import('node:path');
      const store = new FileTokenStore(env.B24_TOKEN_FILE ?? j(env.B24FLOW_DATA_DIR ?? './data', 'tokens.json'));
      for (const t of await store.list()) if (t.application_token) tokens.set(t.member_id, t.application_token);
      if (env.B24_CLIENT_SECRET) {
        const { appInstallVerifier } = await import('./install.js');
        const app = {
          clientId: env.B24_CLIENT_ID,
          clientSecret: env.B24_CLIENT_SECRET,
          ...(env.B24_OAUTH_TOKEN_URL ? { tokenUrl: env.B24_OAUTH_TOKEN_URL } : {}),
        };
        verifyInstall = appInstallVerifier(registryFor(app, store));
      }
    } catch {}
  }
  return {
    client: conn.client,
    kind: conn.client.portal.kind,
    tokens,
    ...(verifyInstall ? { verifyInstall } : {}),
    ...(sb ? { sandbox: sb } : {}),
    close: () => conn.close(),
  };
}

/** The data directory: `B24FLOW_DATA_DIR` or `./data`. */
export function dataDirOf(env: NodeJS.ProcessEnv = process.env): string {
  return env.B24FLOW_DATA_DIR ?? './data';
}
