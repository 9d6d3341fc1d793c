/**
 * Portal configuration → a ready {@link B24Client}.
 *
 * Order: `BITRIX_WEBHOOK_URL` (incoming webhook) → `B24_CLIENT_ID` + `B24_CLIENT_SECRET` with stored tokens (OAuth;
 * `B24_MEMBER_ID` picks the portal when several are installed) → neither: the embedded sandbox portal is started
 * and this is said on stderr. There is never a default real portal. `.env` in the working directory is read first;
 * variables already in the environment win.
 *
 * Other variables: `B24FLOW_DATA_DIR` (tokens, audit; default `./data`), `B24_PLAN` (`standard`|`enterprise`),
 * `B24_OPERATING_LIMIT` (s), `B24_MAX_CONCURRENCY`, `B24_CLOCK_FACTOR`, `B24_OAUTH_TOKEN_URL`, `B24_CA_FILE`,
 * `B24_TOKEN_FILE`, `B24FLOW_SANDBOX_DIR` (persist the embedded sandbox's data between runs).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { InvalidInputError, RuntimeFailure } from '../lib/failures.js';
import type { SandboxHandle, SandboxOptions } from '../sandbox/index.js';
import { type AuditSink, FileAudit } from './audit.js';
import type { OAuthApp } from './auth/oauth.js';
import { PortalRegistry } from './auth/registry.js';
import { FileTokenStore, type TokenStore } from './auth/tokenStore.js';
import { WebhookAuth } from './auth/webhook.js';
import { B24Client } from './client.js';
import type { LimiterConfig, PlanName } from './limiter/index.js';
import { redact, registerSecret } from './redact.js';

/** Options of the embedded sandbox (type-only import: the sandbox module is loaded lazily, only when needed). */
export type SandboxOptionsLike = SandboxOptions;
/** A started sandbox. */
export type SandboxHandleLike = SandboxHandle;

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** Environment to read (default `process.env`); `.env` values fill only missing keys. */
  env?: NodeJS.ProcessEnv;
  /** Options for the embedded sandbox when no portal is configured. */
  sandbox?: SandboxOptions;
  /** Audit file path, or false to disable; default `$B24FLOW_DATA_DIR/audit/calls.jsonl`. */
  audit?: string | false;
  /** Where human notices go (default: process.stderr). */
  stderr?: (line: string) => void;
  /** Limiter overrides (else from env / sandbox settings). */
  limiter?: LimiterConfig;
  /** Token store for OAuth (default file store in the data dir). */
  tokenStore?: TokenStore;
  /** `.env` file to read (default `./.env`); false to skip. */
  dotenv?: string | false;
}

/** A connected client, the sandbox when one was started, and one `close()` for both. */
export interface Connection {
  client: B24Client;
  sandbox?: SandboxHandle;
  /**
   * The limiter settings the client was built with; pass them to further clients of the same portal (e.g. an OAuth
   * client of the embedded sandbox's app) so they pace like this one.
   */
  limiter: LimiterConfig;
  close(): Promise<void>;
}

/** Reads `.env` into a copy of `env`; existing keys win. Missing file → unchanged copy. */
export function loadEnv(env: NodeJS.ProcessEnv, file: string | false = '.env'): NodeJS.ProcessEnv {
  const out = { ...env };
  if (file === false) return out;
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch {
    return out;
  }
  for (const [k, v] of Object.entries(parseDotenv(text))) if (out[k] === undefined) out[k] = v;
  return out;
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function limiterFromEnv(env: NodeJS.ProcessEnv): LimiterConfig {
  const cfg: LimiterConfig = {};
  const plan = env.B24_PLAN?.toLowerCase();
  if (plan === 'standard' || plan === 'enterprise') cfg.plan = plan as PlanName;
  else if (plan) throw new InvalidInputError(`B24_PLAN must be standard or enterprise, got "${plan}"`);
  const op = num(env.B24_OPERATING_LIMIT);
  if (op !== undefined) cfg.operatingLimit = op;
  const mc = num(env.B24_MAX_CONCURRENCY);
  if (mc !== undefined) cfg.maxConcurrency = mc;
  const cf = num(env.B24_CLOCK_FACTOR);
  if (cf !== undefined) cfg.clockFactor = cf;
  return cfg;
}

/**
 * Connects to the configured portal (see module doc).
 * @throws InvalidInputError for a malformed BITRIX_WEBHOOK_URL / B24_PLAN, RuntimeFailure when OAuth is configured
 *   but no portal tokens are stored, or when the sandbox cannot start
 */
export async function connect(opts: ConnectOptions = {}): Promise<Connection> {
  const env = loadEnv(opts.env ?? process.env, opts.dotenv ?? '.env');
  const say = opts.stderr ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dataDir = env.B24FLOW_DATA_DIR ?? './data';
  const audit: AuditSink | false =
    opts.audit === false ? false : new FileAudit(opts.audit ?? join(dataDir, 'audit', 'calls.jsonl'));
  const limiter: LimiterConfig = { ...limiterFromEnv(env), ...(opts.limiter ?? {}) };
  // successive commands share the portal's request counter through the data dir
  const stateFileFor = (portalId: string) =>
    join(dataDir, 'limiter', `${portalId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  const ca = env.B24_CA_FILE ? readFileSync(env.B24_CA_FILE) : undefined;
  const base = { audit, limiter, ...(ca ? { ca } : {}) };

  const webhook = env.BITRIX_WEBHOOK_URL?.trim();
  if (webhook) {
    const auth = new WebhookAuth(webhook);
    const client = new B24Client({
      auth,
      ...base,
      limiter: { ...limiter, stateFile: limiter.stateFile ?? stateFileFor(auth.portalId) },
    });
    return { client, limiter, close: () => closeAll(client, audit) };
  }

  if (env.B24_CLIENT_ID && env.B24_CLIENT_SECRET) {
    registerSecret(env.B24_CLIENT_SECRET);
    const store = opts.tokenStore ?? new FileTokenStore(env.B24_TOKEN_FILE ?? join(dataDir, 'tokens.json'));
    const app: OAuthApp = {
      clientId: env.B24_CLIENT_ID,
      clientSecret: env.B24_CLIENT_SECRET,
      ...(env.B24_OAUTH_TOKEN_URL ? { tokenUrl: env.B24_OAUTH_TOKEN_URL } : {}),
    };
    const registry = registryFor(app, store);
    const portals = await registry.portals();
    let memberId = env.B24_MEMBER_ID;
    if (!memberId) {
      if (portals.length === 1) memberId = portals[0];
      else if (portals.length === 0)
        throw new RuntimeFailure(
          'B24_CLIENT_ID/B24_CLIENT_SECRET are set but no portal tokens are stored; install the application on the portal first',
        );
      else
        throw new InvalidInputError(
          `several portals are installed (${portals.join(', ')}); set B24_MEMBER_ID to pick one`,
        );
    } else if (!portals.includes(memberId)) {
      throw new RuntimeFailure(`no stored tokens for portal B24_MEMBER_ID=${memberId}; install the application there`);
    }
    const client = new B24Client({
      auth: registry.auth(memberId!),
      ...base,
      limiter: { ...limiter, stateFile: limiter.stateFile ?? stateFileFor(memberId!) },
    });
    return { client, limiter, close: () => closeAll(client, audit) };
  }

  // Neither configured: the embedded sandbox portal.
  const spec = '../sandbox/index.js';
  let mod: any;
  try {
    mod = await import(spec);
  } catch (err) {
    throw new RuntimeFailure(
      'no portal configured (set BITRIX_WEBHOOK_URL, or B24_CLIENT_ID/B24_CLIENT_SECRET) and the embedded sandbox is unavailable',
      { cause: err },
    );
  }
  const sbOpts: SandboxOptionsLike = {
    quiet: true,
    ...(env.B24FLOW_SANDBOX_DIR ? { dataDir: env.B24FLOW_SANDBOX_DIR } : {}),
    ...(opts.sandbox ?? {}),
  };
  const sandbox: SandboxHandleLike = await mod.startSandbox(sbOpts);
  say(
    `b24flow: no portal configured (BITRIX_WEBHOOK_URL or B24_CLIENT_ID/B24_CLIENT_SECRET) — using the embedded sandbox portal at ${sandbox.baseUrl}` +
      (sbOpts.dataDir ? ` (data in ${sbOpts.dataDir})` : ' (in memory; set B24FLOW_SANDBOX_DIR to keep its data)'),
  );
  const sbLimiter: LimiterConfig = { ...limiter };
  if (sbOpts.clockFactor !== undefined && sbLimiter.clockFactor === undefined)
    sbLimiter.clockFactor = sbOpts.clockFactor;
  if (sbOpts.plan === 'enterprise' && !sbLimiter.plan) sbLimiter.plan = 'enterprise';
  if (sbOpts.plan === 'unlimited' && sbLimiter.plan === undefined) {
    sbLimiter.drain = 1000;
    sbLimiter.burst = 100000;
  }
  if (sbOpts.operatingLimit !== undefined && sbLimiter.operatingLimit === undefined)
    sbLimiter.operatingLimit = sbOpts.operatingLimit;
  const sbCa = sandbox.caFile ? readFileSync(sandbox.caFile) : ca;
  const client = new B24Client({
    auth: new WebhookAuth(sandbox.webhookUrl),
    audit,
    limiter: sbLimiter,
    ...(sbCa ? { ca: sbCa } : {}),
  });
  return {
    client,
    sandbox,
    limiter: sbLimiter,
    close: async () => {
      await closeAll(client, audit);
      await sandbox.close();
    },
  };
}

async function closeAll(client: B24Client, audit: AuditSink | false): Promise<void> {
  await client.close();
  if (audit) await audit.close();
}

const fileRegistries = new Map<string, PortalRegistry>();
const storeRegistries = new WeakMap<TokenStore, Map<string, PortalRegistry>>();

/**
 * One registry per (client_id, token store) in the process — file stores are identified by their path — so all
 * clients of a portal share one auth provider and one single-flight refresh.
 */
export function registryFor(app: OAuthApp, store: TokenStore): PortalRegistry {
  if (store instanceof FileTokenStore) {
    const key = `${app.clientId}\u0000${resolve(store.path)}`;
    let r = fileRegistries.get(key);
    if (!r) {
      r = new PortalRegistry(app, store);
      fileRegistries.set(key, r);
    }
    return r;
  }
  let m = storeRegistries.get(store);
  if (!m) {
    m = new Map();
    storeRegistries.set(store, m);
  }
  let r = m.get(app.clientId);
  if (!r) {
    r = new PortalRegistry(app, store);
    m.set(app.clientId, r);
  }
  return r;
}

/** Creates an OAuth client for one installed portal of a registry (multi-portal servers). */
export function clientForPortal(
  registry: PortalRegistry,
  memberId: string,
  opts: { audit?: AuditSink | false; limiter?: LimiterConfig; ca?: string | Buffer } = {},
): B24Client {
  return new B24Client({ auth: registry.auth(memberId), ...opts });
}

/** Redacted description of the configured portal for messages (`webhook example.com`, `oauth <member_id>`). */
export function describePortal(client: B24Client): string {
  return redact(`${client.portal.kind} ${client.portal.id}`);
}
