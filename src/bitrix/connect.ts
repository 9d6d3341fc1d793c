/**
 * Explicit portal settings → a ready {@link B24Client}.
 *
 * The composition root (src/cli/compose.ts) reads the configuration (environment, `.env`), decides between a
 * configured portal and the embedded sandbox, and calls {@link connect} with the settings it read: an incoming
 * webhook URL, or an OAuth application whose tokens are in a token store (`memberId` picks the portal when several
 * are installed). This module reads no environment and starts nothing but the client.
 */
import { join } from 'node:path';
import { InvalidInputError, RuntimeFailure } from '../lib/failures.js';
import { type AuditSink, FileAudit } from './audit.js';
import type { OAuthApp } from './auth/oauth.js';
import { PortalRegistry } from './auth/registry.js';
import type { TokenStore } from './auth/tokenStore.js';
import { WebhookAuth } from './auth/webhook.js';
import { B24Client, type CallObserver, type ClientOptions } from './client.js';
import type { LimiterConfig } from './limiter/index.js';
import { redact, registerSecret } from './redact.js';
import type { V3Memory } from './restV3.js';

/**
 * The portal settings, already read from the configuration by the composition root. Exactly one of `webhookUrl`
 * and `oauth` is used (the webhook wins when both are given).
 */
export interface PortalSettings {
  /** Incoming webhook URL, `https://<portal>/rest/<user>/<code>/` (`BITRIX_WEBHOOK_URL`). */
  webhookUrl?: string;
  /**
   * OAuth application (`B24_CLIENT_ID`, `B24_CLIENT_SECRET`, `B24_OAUTH_TOKEN_URL`) and the installed portal to use
   * (`B24_MEMBER_ID`; optional when exactly one portal is installed).
   */
  oauth?: { app: OAuthApp; memberId?: string };
  /** Data directory: the default audit file. */
  dataDir: string;
  /**
   * Limiter settings (`B24_PLAN`, `B24_OPERATING_LIMIT`, `B24_MAX_CONCURRENCY`, `B24_CLOCK_FACTOR`; `shared`: the
   * store's bucket, so that every process on the store shares the portal's request budget).
   */
  limiter?: LimiterConfig;
  /** Extra CA certificate(s) to trust (the contents of `B24_CA_FILE`, or the sandbox's own CA). */
  ca?: string | Buffer;
}

/** Per-connection choices of {@link connect} that are not portal configuration. */
export interface ConnectOptions {
  /** Audit file path, or false to disable; default `<dataDir>/audit/calls.jsonl`. */
  audit?: string | false;
  /** Size cap of the audit file, bytes (rotated past it; see {@link FileAudit}); default FileAudit's. */
  auditMaxBytes?: number;
  /** Limiter overrides, applied over {@link PortalSettings.limiter}. */
  limiter?: LimiterConfig;
  /** Token store of the OAuth application (required with `settings.oauth`; src/cli passes the store's). */
  tokenStore?: TokenStore;
  /** Where the client remembers portals without a REST 3.0 route (default: this process only; src/cli: the store). */
  v3Memory?: V3Memory;
  /** Told every HTTP exchange of the client (metrics; src/cli passes the service's). */
  onCall?: CallObserver;
}

/** A connected client and one `close()` for it and its audit sink. */
export interface Connection {
  client: B24Client;
  /**
   * The limiter settings the client was built with; pass them to further clients of the same portal (e.g. an OAuth
   * client of the embedded sandbox's app) so they pace like this one.
   */
  limiter: LimiterConfig;
  close(): Promise<void>;
}

/**
 * Connects to the portal the settings name.
 *
 * @param settings what the composition root read from the configuration
 * @throws InvalidInputError for a malformed webhook URL, when neither a webhook nor an OAuth application is given,
 *   or when several portals are installed and no `memberId` picks one; RuntimeFailure when OAuth is configured but
 *   no portal tokens are stored
 */
export async function connect(settings: PortalSettings, opts: ConnectOptions = {}): Promise<Connection> {
  const { dataDir } = settings;
  const audit: AuditSink | false =
    opts.audit === false
      ? false
      : new FileAudit(
          opts.audit ?? join(dataDir, 'audit', 'calls.jsonl'),
          opts.auditMaxBytes !== undefined ? { maxBytes: opts.auditMaxBytes } : {},
        );
  const limiter: LimiterConfig = { ...(settings.limiter ?? {}), ...(opts.limiter ?? {}) };
  const base = {
    audit,
    ...(settings.ca ? { ca: settings.ca } : {}),
    ...(opts.v3Memory ? { v3Memory: opts.v3Memory } : {}),
    ...(opts.onCall ? { onCall: opts.onCall } : {}),
  };

  const webhook = settings.webhookUrl?.trim();
  if (webhook) {
    const auth = new WebhookAuth(webhook);
    const client = new B24Client({ auth, ...base, limiter });
    return { client, limiter, close: () => closeAll(client, audit) };
  }

  if (settings.oauth) {
    const { app } = settings.oauth;
    registerSecret(app.clientSecret);
    const store = opts.tokenStore;
    if (!store) {
      if (audit) await audit.close();
      throw new InvalidInputError('an OAuth application needs a token store (connect options: tokenStore)');
    }
    const registry = registryFor(app, store);
    const portals = await registry.portals();
    let memberId = settings.oauth.memberId;
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
    const client = new B24Client({ auth: registry.auth(memberId!), ...base, limiter });
    return { client, limiter, close: () => closeAll(client, audit) };
  }

  if (audit) await audit.close();
  throw new InvalidInputError('no portal configured: set BITRIX_WEBHOOK_URL, or B24_CLIENT_ID/B24_CLIENT_SECRET');
}

async function closeAll(client: B24Client, audit: AuditSink | false): Promise<void> {
  await client.close();
  if (audit) await audit.close();
}

const storeRegistries = new WeakMap<TokenStore, Map<string, PortalRegistry>>();

/**
 * One registry per (client_id, token store object) in the process, so all clients of a portal share one auth provider
 * and one single-flight refresh (src/cli keeps one token store per process).
 */
export function registryFor(app: OAuthApp, store: TokenStore): PortalRegistry {
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
  opts: Pick<ClientOptions, 'audit' | 'limiter' | 'ca' | 'v3Memory' | 'onCall'> = {},
): B24Client {
  return new B24Client({ auth: registry.auth(memberId), ...opts });
}

/** Redacted description of the configured portal for messages (`webhook example.com`, `oauth <member_id>`). */
export function describePortal(client: B24Client): string {
  return redact(`${client.portal.kind} ${client.portal.id}`);
}
