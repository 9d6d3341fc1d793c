/**
 * The composition root: the one place that turns configuration (environment, `.env`, flags) into objects — the
 * portal client (a configured portal, or the embedded sandbox when none is configured), the token store, the audit
 * sink, the data directory, the limiter settings, the application connection of the trigger service — and hands
 * them down. Libraries under src/ never read `process.env` nor start the sandbox themselves.
 *
 * Start-up cost: this module is loaded by light commands too (`check`, `catalog show`), so the client (undici), the
 * sandbox and the trigger modules are imported lazily, inside the functions that need them.
 *
 * Variables read here: `BITRIX_WEBHOOK_URL` (incoming webhook) → `B24_CLIENT_ID` + `B24_CLIENT_SECRET` with stored
 * tokens (OAuth; `B24_MEMBER_ID` picks the portal when several are installed, `B24_OAUTH_TOKEN_URL`; the tokens live
 * in the store, encrypted with `B24FLOW_STORE_KEY` or `<data dir>/store-key`) → neither: the embedded sandbox portal
 * (one per data directory, shared by the processes using it and kept in `<data dir>/sandbox/`; `B24FLOW_SANDBOX_DIR`
 * names another directory; see src/cli/sandboxHost.ts). There is never a default real portal. Every client draws its
 * request slots from the store's shared bucket of its portal (src/store/limiter.ts), so CLI runs, workers and machines
 * on one store share the portal's limits. Also `B24FLOW_DATA_DIR` (store, audit; default `./data`), `B24_PLAN` (`standard`|`enterprise`), `B24_OPERATING_LIMIT` (s), `B24_MAX_CONCURRENCY`,
 * `B24_CLOCK_FACTOR`, `B24_CA_FILE`, `B24FLOW_TZ` (schedules; default UTC), `B24FLOW_AUTH_CONNECTOR`,
 * `B24_APPLICATION_TOKEN`, `B24FLOW_CATALOG_DIR`. `.env` in the working directory fills keys the environment lacks.
 */
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { TokenStore } from '../bitrix/auth/tokenStore.js';
import type { B24Client, CallObserver } from '../bitrix/client.js';
import type { Connection, ConnectOptions, PortalSettings } from '../bitrix/connect.js';
import type { LimiterConfig, LimiterWait, SharedLimiterState } from '../bitrix/limiter/index.js';
import type { V3Memory } from '../bitrix/restV3.js';
import { setDefaultCatalogDir } from '../catalog/store.js';
import { InvalidInputError, RuntimeFailure } from '../lib/failures.js';
import { registerEnvSecrets } from '../lib/redact.js';
import type { SandboxEndpoint, SandboxOptions } from '../sandbox/index.js';
import type { InstallVerifier } from '../triggers/install.js';
import type { PortalTokens } from '../triggers/online.js';
import { configFileEnv } from './configFile.js';
import { openDataStore } from './dataStore.js';
import { auditMaxBytesOf } from './logSizes.js';
import type { SandboxPacing } from './sandboxHost.js';

export type { Connection, ConnectOptions, PortalSettings };

/** The `auth_connector` of our own writes when `B24FLOW_AUTH_CONNECTOR` is not set (see src/triggers/loopGuard.ts). */
const DEFAULT_AUTH_CONNECTOR = 'b24flow';

/** Reads `.env` into a copy of `env`; existing keys win. Missing file → unchanged copy. */
export function loadEnv(env: NodeJS.ProcessEnv, file: string | false = '.env'): NodeJS.ProcessEnv {
  const out = { ...env };
  if (file === false) return out;
  let text: string | undefined;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch {
    // no .env
  }
  if (text !== undefined) for (const [k, v] of Object.entries(parseDotenv(text))) if (out[k] === undefined) out[k] = v;
  // b24flow.config.yaml below the environment and .env (configFile.ts)
  for (const [k, v] of Object.entries(configFileEnv(out))) if (out[k] === undefined) out[k] = v;
  return out;
}

/** The process-wide settings every command shares, read once from the environment (and `.env`). */
export interface Settings {
  /** The environment the settings were read from (process.env with `.env` filling missing keys). */
  env: NodeJS.ProcessEnv;
  /** `B24FLOW_DATA_DIR` or `./data` (as written: relative paths stay relative). */
  dataDir: string;
  /** IANA time zone of schedules without their own (`B24FLOW_TZ`, default `UTC`). */
  timezone: string;
  /** `auth_connector` of our writes, so that the events they cause are not delivered back to us. */
  authConnector: string;
}

/**
 * Reads the shared settings.
 * @param opts.env environment (default `process.env`); @param opts.dotenv `.env` file (default `./.env`), false to skip
 */
export function readSettings(opts: { env?: NodeJS.ProcessEnv; dotenv?: string | false } = {}): Settings {
  const env = loadEnv(opts.env ?? process.env, opts.dotenv ?? '.env');
  return {
    env,
    dataDir: env.B24FLOW_DATA_DIR ?? './data',
    timezone: env.B24FLOW_TZ ?? 'UTC',
    authConnector: env.B24FLOW_AUTH_CONNECTOR ?? DEFAULT_AUTH_CONNECTOR,
  };
}

/**
 * Process-wide configuration done once at start-up by src/cli/main.ts: the catalog directory every catalog reader
 * uses when not given one (`B24FLOW_CATALOG_DIR`, else the shipped catalog).
 */
export function configureProcess(env: NodeJS.ProcessEnv = process.env): void {
  setDefaultCatalogDir(env.B24FLOW_CATALOG_DIR || undefined);
  // every file and directory this process creates is private (0600 / 0700): journals hold CRM data, the plan key,
  // idempotency keys, tokens and dead letters — enforced once for all writers, not per file
  process.umask(0o077);
  const config = loadEnv(env);
  // secrets of the configuration are known before anything can fail, so every error path can redact them
  registerEnvSecrets(config);
  tightenDataDir(config.B24FLOW_DATA_DIR ?? './data');
}

/** A data directory left group/world-readable by an older version is made private (0700) at start. */
function tightenDataDir(dir: string): void {
  try {
    const st = statSync(dir);
    if (st.isDirectory() && st.mode & 0o077 && st.uid === process.getuid?.()) chmodSync(dir, 0o700);
  } catch {
    // absent: it will be created 0700
  }
}

function num(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Limiter settings from `B24_PLAN`, `B24_OPERATING_LIMIT`, `B24_MAX_CONCURRENCY`, `B24_CLOCK_FACTOR`.
 * @throws InvalidInputError when B24_PLAN is neither standard nor enterprise
 */
export function limiterFromEnv(env: NodeJS.ProcessEnv): LimiterConfig {
  const cfg: LimiterConfig = {};
  const plan = env.B24_PLAN?.toLowerCase();
  if (plan === 'standard' || plan === 'enterprise') cfg.plan = plan;
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
 * The portal settings of an environment, or undefined when no portal is configured (then the embedded sandbox is
 * used). Reads `B24_CA_FILE` from disk.
 * @throws InvalidInputError for a bad `B24_PLAN`
 */
export function portalSettings(env: NodeJS.ProcessEnv): PortalSettings | undefined {
  const limiter = limiterFromEnv(env);
  const dataDir = env.B24FLOW_DATA_DIR ?? './data';
  const ca = env.B24_CA_FILE ? readFileSync(env.B24_CA_FILE) : undefined;
  const base: PortalSettings = { dataDir, limiter, ...(ca ? { ca } : {}) };
  const webhookUrl = env.BITRIX_WEBHOOK_URL?.trim();
  if (webhookUrl) return { ...base, webhookUrl };
  if (env.B24_CLIENT_ID && env.B24_CLIENT_SECRET) {
    return {
      ...base,
      oauth: {
        app: {
          clientId: env.B24_CLIENT_ID,
          clientSecret: env.B24_CLIENT_SECRET,
          ...(env.B24_OAUTH_TOKEN_URL ? { tokenUrl: env.B24_OAUTH_TOKEN_URL } : {}),
        },
        ...(env.B24_MEMBER_ID ? { memberId: env.B24_MEMBER_ID } : {}),
      },
    };
  }
  return undefined;
}

/** Options of {@link connect} / {@link connectPortal}. */
export interface PortalOptions {
  /** Environment to read (default `process.env`); `.env` values fill only missing keys. */
  env?: NodeJS.ProcessEnv;
  /** `.env` file to read (default `./.env`); false to skip. */
  dotenv?: string | false;
  /**
   * Options for the embedded sandbox when no portal is configured and this process starts it (a sandbox another
   * process runs for the same data directory is used as it is; `size` and `seed` matter only for a new one).
   * `dataDir` names the sandbox directory (default `B24FLOW_SANDBOX_DIR`, else `<data dir>/sandbox`).
   */
  sandbox?: SandboxOptions;
  /** Audit file path, or false to disable; default `$B24FLOW_DATA_DIR/audit/calls.jsonl`. */
  audit?: string | false;
  /** Where human notices go (default: process.stderr). */
  stderr?: (line: string) => void;
  /** Limiter overrides (else from env / sandbox settings). */
  limiter?: LimiterConfig;
  /** Token store for OAuth (default: the store's, encrypted; see {@link portalStores}). */
  tokenStore?: TokenStore;
  /** Told every HTTP exchange of the client (serve's metrics). */
  onCall?: CallObserver;
}

/** The store-backed pieces every portal client of a process shares. */
export interface PortalStores {
  /** The shared request bucket of every portal (src/store/limiter.ts). */
  limiter: SharedLimiterState;
  /** The OAuth token store (encrypted rows; the key is read on first use). */
  tokens(): Promise<TokenStore>;
  /** Portals without a REST 3.0 route, as every process on the store learned them (src/store/v3memory.ts). */
  v3Memory: V3Memory;
}

const portalStoresCache = new WeakMap<object, PortalStores>();

/**
 * The process's shared limiter state and token store on the store of `env` (`B24FLOW_DATABASE_URL`, else SQLite in
 * the data dir), created once per open store. The store key is `B24FLOW_STORE_KEY` (base64 of 32 bytes; wins, and
 * must be the same on every machine of one PostgreSQL) or `<data dir>/store-key`.
 * @throws Error naming the database when the store cannot be opened; RuntimeFailure for a malformed key
 */
export async function portalStores(env: NodeJS.ProcessEnv): Promise<PortalStores> {
  const dataDir = env.B24FLOW_DATA_DIR ?? './data';
  const store = await openDataStore({ env, dataDir });
  let hit = portalStoresCache.get(store);
  if (!hit) {
    const { StoreLimiterState } = await import('../store/limiter.js');
    const { StoreTokenStore, loadStoreKey } = await import('../store/tokens.js');
    const { loadV3Memory } = await import('../store/v3memory.js');
    const v3Memory = await loadV3Memory(store);
    // a concurrent caller may have built them while the modules loaded: one token store per store, one registry
    const again = portalStoresCache.get(store);
    if (again) return again;
    let tokens: Promise<TokenStore> | undefined;
    hit = {
      limiter: new StoreLimiterState(store),
      v3Memory,
      tokens: () => {
        tokens ??= loadStoreKey(dataDir, env.B24FLOW_STORE_KEY).then((k) => new StoreTokenStore(store, k));
        tokens.catch(() => {
          tokens = undefined;
        });
        return tokens;
      },
    };
    portalStoresCache.set(store, hit);
  }
  return hit;
}

/** The limiter settings with the store's shared bucket, and a one-time warning should the store fail mid-run. */
export function sharedLimiter(
  limiter: LimiterConfig,
  stores: PortalStores,
  say: (line: string) => void,
): LimiterConfig {
  let warned = false;
  return {
    ...limiter,
    shared: stores.limiter,
    onSharedError: (err) => {
      if (warned) return;
      warned = true;
      say(
        `b24flow: the shared limiter state is unavailable (${(err as Error)?.message ?? err}); pacing this process alone`,
      );
    },
  };
}

/** A connected client, the embedded sandbox when no portal is configured, and one `close()` for both. */
export interface PortalConnection extends Connection {
  /** the embedded sandbox (started by this process, or by another one using the same data directory) */
  sandbox?: SandboxEndpoint;
  /** its directory (snapshot, host record) */
  sandboxDir?: string;
}

/**
 * Connects to the configured portal, or starts the embedded sandbox portal when none is configured (said on stderr).
 *
 * @throws InvalidInputError for a malformed `BITRIX_WEBHOOK_URL` / `B24_PLAN`, RuntimeFailure when OAuth is
 *   configured but no portal tokens are stored, or when the sandbox cannot start
 */
export async function connect(opts: PortalOptions = {}): Promise<PortalConnection> {
  const env = loadEnv(opts.env ?? process.env, opts.dotenv ?? '.env');
  const say = opts.stderr ?? ((line: string) => process.stderr.write(`${line}\n`));
  const settings = portalSettings(env);
  const bitrix = await import('../bitrix/connect.js');
  const stores = await portalStores(env);
  const auditOpts: ConnectOptions = {
    ...(opts.audit !== undefined ? { audit: opts.audit } : {}),
    auditMaxBytes: auditMaxBytesOf(env),
    ...(opts.onCall ? { onCall: opts.onCall } : {}),
  };
  if (settings) {
    const connectOpts: ConnectOptions = {
      ...auditOpts,
      limiter: sharedLimiter({ ...(settings.limiter ?? {}), ...(opts.limiter ?? {}) }, stores, say),
      v3Memory: stores.v3Memory,
      ...(settings.oauth ? { tokenStore: opts.tokenStore ?? (await stores.tokens()) } : {}),
    };
    return bitrix.connect(settings, connectOpts);
  }

  // Neither configured: the embedded sandbox portal, one per data directory (see sandboxHost.ts).
  let host: typeof import('./sandboxHost.js');
  try {
    host = await import('./sandboxHost.js');
  } catch (err) {
    throw new RuntimeFailure(
      'no portal configured (set BITRIX_WEBHOOK_URL, or B24_CLIENT_ID/B24_CLIENT_SECRET) and the embedded sandbox is unavailable',
      { cause: err },
    );
  }
  const dataDir = env.B24FLOW_DATA_DIR ?? './data';
  const sbOpts: SandboxOptions = { quiet: true, ...(opts.sandbox ?? {}) };
  const dir = sbOpts.dataDir ?? (env.B24FLOW_SANDBOX_DIR || join(dataDir, 'sandbox'));
  const shared = await host.openSharedSandbox({ dir, start: sbOpts, say });
  const sandbox = shared.endpoint;
  say(
    `b24flow: no portal configured (BITRIX_WEBHOOK_URL or B24_CLIENT_ID/B24_CLIENT_SECRET) — using the embedded sandbox portal at ${sandbox.baseUrl} (data in ${dir}` +
      (shared.hosting ? ')' : `; run by process ${shared.owner.pid})`),
  );
  let conn: Connection;
  try {
    conn = await bitrix.connect(
      {
        webhookUrl: sandbox.webhookUrl,
        dataDir,
        limiter: sharedLimiter(
          sandboxLimiter({ ...limiterFromEnv(env), ...(opts.limiter ?? {}) }, shared.pacing),
          stores,
          say,
        ),
        ...(sandbox.caFile
          ? { ca: readFileSync(sandbox.caFile) }
          : env.B24_CA_FILE
            ? { ca: readFileSync(env.B24_CA_FILE) }
            : {}),
      },
      { v3Memory: stores.v3Memory, ...auditOpts },
    );
  } catch (err) {
    await shared.close();
    throw err;
  }
  return {
    ...conn,
    sandbox,
    sandboxDir: dir,
    close: async () => {
      await conn.close();
      await shared.close();
    },
  };
}

/** The limiter of a client of the embedded sandbox: paced like the sandbox's own plan, clock and operating limit. */
function sandboxLimiter(limiter: LimiterConfig, sb: SandboxPacing): LimiterConfig {
  const out: LimiterConfig = { ...limiter };
  if (sb.clockFactor !== undefined && out.clockFactor === undefined) out.clockFactor = sb.clockFactor;
  if (sb.plan === 'enterprise' && !out.plan) out.plan = 'enterprise';
  if (sb.plan === 'unlimited' && out.plan === undefined) {
    out.drain = 1000;
    out.burst = 100000;
  }
  if (sb.operatingLimit !== undefined && out.operatingLimit === undefined) out.operatingLimit = sb.operatingLimit;
  return out;
}

/**
 * Connects like every command, with a small embedded sandbox when no portal is configured. Long limiter waits are
 * announced on stderr (src/cli/present/waitNotice.ts; interval `B24FLOW_WAIT_NOTICE_S`, default 10 s).
 *
 * @param opts connection options (environment, audit path, limiter overrides, sandbox options)
 * @returns the connection; `close()` ends the client and the sandbox it started
 * @throws InvalidInputError when the configuration is malformed (e.g. a bad `BITRIX_WEBHOOK_URL`)
 */
export async function connectPortal(opts: PortalOptions = {}): Promise<PortalConnection> {
  const onWait = await waitNoticesFromEnv(loadEnv(opts.env ?? process.env));
  return connect({ sandbox: { size: 'small', quiet: true }, ...opts, limiter: { onWait, ...opts.limiter } });
}

/** The limiter's `onWait` for an interactive command: progress lines on stderr during long waits. */
export async function waitNoticesFromEnv(env: NodeJS.ProcessEnv): Promise<(w: LimiterWait) => void> {
  const { waitNotices } = await import('./present/waitNotice.js');
  const s = Number(env.B24FLOW_WAIT_NOTICE_S);
  return waitNotices(undefined, s > 0 ? s * 1000 : 10_000);
}

/** A connection whose client can use application-only methods when the portal allows it. */
export interface AppConnection {
  client: B24Client;
  /** `oauth` when the client has an application context. */
  kind: 'webhook' | 'oauth';
  /** Application tokens per portal (online event verification). */
  tokens: PortalTokens;
  /** Verifies ONAPPINSTALL of a new portal and stores its tokens (when an OAuth app is configured). */
  verifyInstall?: InstallVerifier;
  sandbox?: SandboxEndpoint;
  /** the embedded sandbox's directory */
  sandboxDir?: string;
  close(): Promise<void>;
}

/**
 * Connects for the trigger commands (`serve`, `events`, `dlq replay`). With the embedded sandbox (no
 * configuration), installs the sandbox's OAuth application and returns an application-context client for it, so
 * that offline events work on a fresh machine. Application tokens come from the token store (`application_token`
 * saved at install) and from `B24_APPLICATION_TOKEN` (+ `B24_MEMBER_ID`).
 * `onCall` is told every HTTP exchange of the clients (serve's metrics); `stderr` takes the human notices (serve's log).
 * @throws what {@link connect} throws
 */
export async function connectApp(
  opts: {
    env?: NodeJS.ProcessEnv;
    sandbox?: SandboxOptions;
    onCall?: CallObserver;
    stderr?: (line: string) => void;
  } = {},
): Promise<AppConnection> {
  const env = opts.env ?? process.env;
  const conn = await connect({
    env,
    ...(opts.sandbox ? { sandbox: opts.sandbox } : {}),
    ...(opts.onCall ? { onCall: opts.onCall } : {}),
    ...(opts.stderr ? { stderr: opts.stderr } : {}),
  });
  const { registryFor, clientForPortal } = await import('../bitrix/connect.js');
  const tokens: PortalTokens = new Map();
  if (env.B24_APPLICATION_TOKEN) tokens.set(env.B24_MEMBER_ID ?? '', env.B24_APPLICATION_TOKEN);
  const sb = conn.sandbox;
  if (sb) {
    const { MemoryTokenStore } = await import('../bitrix/auth/tokenStore.js');
    const { tokensFromAnswer } = await import('../bitrix/auth/oauth.js');
    const { appInstallVerifier } = await import('../triggers/install.js');
    const answer = await sb.oauthApp.install();
    const t = tokensFromAnswer(answer as unknown as Record<string, unknown>);
    const store = new MemoryTokenStore();
    const registry = registryFor({ clientId: sb.oauthApp.clientId, clientSecret: sb.oauthApp.clientSecret }, store);
    await registry.install(t);
    // pace like the connection's client: a default (standard-plan) limiter would throttle the app to 2 req/s
    const v3Memory = (await portalStores(env)).v3Memory;
    const client = clientForPortal(registry, t.member_id, {
      audit: false,
      limiter: conn.limiter ?? {},
      v3Memory,
      ...(opts.onCall ? { onCall: opts.onCall } : {}),
    });
    tokens.set(t.member_id, t.application_token ?? sb.oauthApp.applicationToken);
    return {
      client,
      kind: 'oauth',
      tokens,
      verifyInstall: appInstallVerifier(registry, { tokenUrl: new URL('/oauth/token/', sb.baseUrl).toString() }),
      sandbox: sb,
      ...(conn.sandboxDir ? { sandboxDir: conn.sandboxDir } : {}),
      close: async () => {
        await client.close();
        await conn.close();
      },
    };
  }
  let verifyInstall: InstallVerifier | undefined;
  if (conn.client.portal.kind === 'oauth' && env.B24_CLIENT_ID) {
    try {
      const store = await (await portalStores(env)).tokens();
      for (const t of await store.list()) if (t.application_token) tokens.set(t.member_id, t.application_token);
      if (env.B24_CLIENT_SECRET) {
        const { appInstallVerifier } = await import('../triggers/install.js');
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
    close: () => conn.close(),
  };
}
