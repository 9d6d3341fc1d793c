/**
 * The sandbox portal: a local Bitrix24 REST emulator used as the embedded default of every command, and the
 * ground of every test and benchmark. Facts: rest-protocol.md (§13 checklist); official docs bitrix24/b24restdocs.
 *
 * Emulated: webhook `/rest/{user}/{code}/{method}[.json|.xml]` with per-webhook scopes, OAuth `/rest/{method}`
 * (`auth` in query or body), REST 3.0 `/rest/api/…` for tasks.task.* (JSON only, Idempotency-Key replay, v3 batch);
 * case-insensitive names; query/JSON/urlencoded/multipart with PHP brackets; positional task.*item.* params;
 * envelopes (`total`/`next` on lists only, `time` with operating fields, PHP `[]` empties, legacy string scalars,
 * typed camelCase crm.item.*, `{task}`/`{tasks}`); every error dialect with its status; leaky bucket per portal+IP
 * (standard/enterprise/unlimited) → 503; per-method operating budget in ten one-minute baskets → 429; clock
 * speed-up; 50-row lists with every filter prefix, order, select `*`/`UF_*`, `logic: OR` (crm.item.list), start /
 * start=-1 / keyset; batch (≤ 50, halt, `$result[…]`, result_* sections, nested batch refused); event.bind/unbind/
 * get (app only), online form-encoded delivery without retries, outgoing webhooks, offline queue (latest state per
 * object, clear=0 + process_id, clear, error, list, 30-day reservations, auth_connector, ONOFFLINEEVENT); OAuth
 * authorize/token with rotating refresh tokens and expiring access tokens, ONAPPINSTALL; simulated activity;
 * injected faults; --data persistence (atomic NDJSON snapshot); https with a self-signed certificate.
 *
 * Knowingly not emulated: user permissions / access rights (every user sees everything), per-scope field sets of
 * user.current, webhook expiry dates, portal domain moves (302), phone-number normalisation beyond digits, LIKE
 * restrictions on typed CRM fields, smart processes (entityTypeId ≥ 1030) and invoices, files/disk content,
 * business-process execution, REST 3.0 beyond tasks.task.* and rest.scope.list, `rest.documentation.openapi`, the 60 s hard request
 * timeout, OVERLOAD_LIMIT, METHOD_CONFIRM_*, delivery from a remote queue (events go out at once, in process).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { registerSecret } from '../lib/redact.js';
import type { Plan } from './limits.js';
import { Portal } from './portal.js';
import { SandboxServer } from './server.js';

/** Options of {@link startSandbox}. */
export interface SandboxOptions {
  /** 0 = a free port (default) */
  port?: number;
  /** default 127.0.0.1 */
  host?: string;
  /** data seed, default 1 */
  seed?: number;
  /** number = deals; small = 200 (default), medium = 10,000, large = 100,000 */
  size?: 'small' | 'medium' | 'large' | number;
  /** leaky-bucket preset; default 'standard' for the CLI, tests usually 'unlimited' */
  plan?: 'standard' | 'enterprise' | 'unlimited';
  /** seconds of operating budget per method per 10 min, default 480; 0 disables the 429 */
  operatingLimit?: number;
  /** sandbox clock speed-up (1 = real time) */
  clockFactor?: number;
  /** persist the portal in this directory (atomic writes); default in-memory */
  dataDir?: string;
  /** https with a self-signed certificate made at start */
  tls?: boolean;
  /** no progress lines on stderr */
  quiet?: boolean;
}

/** Tokens returned by the OAuth install flow. */
export interface OAuthTokens {
  access_token: string;
  refresh_token: string;
  /** seconds */
  expires_in: number;
  member_id: string;
  domain: string;
  client_endpoint: string;
  server_endpoint: string;
  application_token: string;
  scope: string;
}

/** Control client for the /sandbox/* endpoints. */
export interface SandboxAdmin {
  /** realistic activity → events; `wait: true` answers when done */
  simulate(req: {
    rate?: number;
    seconds?: number;
    count?: number;
    kinds?: string[];
    wait?: boolean;
  }): Promise<Record<string, unknown>>;
  /**
   * Fault for the next `count` calls of `method`: `reset` (drop the connection before processing), `reset_after`
   * (process, then drop), `500`, `html` (502 proxy page), `timeout` (no answer for 65 s), and canned limit/auth
   * answers without tripping the limiters: `503` QUERY_LIMIT_EXCEEDED, `429` OPERATION_TIME_LIMIT, `401` expired_token.
   */
  faults(req: {
    method: string;
    kind: 'reset' | '500' | 'html' | 'timeout' | 'reset_after' | '503' | '429' | '401';
    count?: number;
  }): Promise<void>;
  /** change limits at run time; `reset: true` empties the bucket and the operating baskets */
  limits(req: {
    plan?: Plan;
    operatingLimit?: number;
    clockFactor?: number;
    reset?: boolean;
  }): Promise<Record<string, unknown>>;
  /** another incoming webhook with the given scopes */
  webhook(req: { scopes: string[]; userId?: number }): Promise<{ webhookUrl: string }>;
  /** expire every access token now */
  expireTokens(): Promise<void>;
  /** server-side counters */
  stats(): Promise<{
    requests: number;
    byMethod: Record<string, number>;
    status: Record<string, number>;
    writes: Record<string, number>;
    events: { sent: number; failed: number; queued: number };
    offlineQueue: number;
  }>;
  resetStats(): Promise<void>;
  /** advance the sandbox clock */
  advanceTime(seconds: number): Promise<void>;
  /** wait until in-flight event deliveries finished */
  drainEvents(): Promise<void>;
  /** an outgoing webhook (portal UI style): events POSTed to `handler` with its own application_token, no OAuth */
  outgoingWebhook(req: { event: string; handler: string }): Promise<{ id: number; applicationToken: string }>;
}

/** A running sandbox. */
export interface SandboxHandle {
  /** `http://127.0.0.1:PORT/rest/1/<code>/` (trailing slash; the method is appended) */
  webhookUrl: string;
  /** `http://127.0.0.1:PORT` */
  baseUrl: string;
  /** PEM of the self-signed certificate (with tls) */
  caFile?: string;
  oauthApp: {
    clientId: string;
    clientSecret: string;
    memberId: string;
    domain: string;
    applicationToken: string;
    /**
     * Runs /oauth/authorize/ + /oauth/token/ over HTTP and returns the tokens. With `handler`, the portal
     * also POSTs ONAPPINSTALL (form-encoded, with refresh_token and application_token) to that URL.
     */
    install(opts?: { handler?: string; userId?: number }): Promise<OAuthTokens>;
  };
  admin: SandboxAdmin;
  /** the in-process portal (tests/benchmarks only; not part of the HTTP contract) */
  portal: Portal;
  /** the in-process request handler (benchmarks attach `onTiming` to it) */
  server: SandboxServer;
  close(): Promise<void>;
}

/** Deal count of a size option. */
export function dealsFor(size: SandboxOptions['size']): number {
  if (typeof size === 'number') return Math.max(0, Math.floor(size));
  return size === 'medium' ? 10_000 : size === 'large' ? 100_000 : 200;
}

async function tlsMaterial(host: string): Promise<{ key: string; cert: string; caFile: string }> {
  const selfsigned = await import('selfsigned');
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'b24flow sandbox' }], {
    keySize: 2048,
    days: 30,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', keyCertSign: true, digitalSignature: true, keyEncipherment: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          ...(host !== '127.0.0.1' && host !== 'localhost' ? [{ type: 2, value: host }] : []),
        ],
      },
    ],
  } as any);
  const dir = join(tmpdir(), `b24flow-sandbox-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, pems.cert);
  return { key: pems.private, cert: pems.cert, caFile };
}

/**
 * Starts a sandbox portal.
 * @returns handle with the webhook URL, OAuth app, admin client and close()
 * @throws when the port is taken or the data dir holds an unreadable snapshot
 */
export async function startSandbox(opts: SandboxOptions = {}): Promise<SandboxHandle> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.quiet ? () => {} : (line: string) => process.stderr.write(line + '\n');
  const portal = new Portal({
    seed: opts.seed ?? 1,
    deals: dealsFor(opts.size),
    plan: opts.plan ?? 'standard',
    operatingLimit: opts.operatingLimit ?? 480,
    clockFactor: opts.clockFactor ?? 1,
    dataDir: opts.dataDir,
    log,
  });
  const app = new SandboxServer(portal);
  let caFile: string | undefined;
  let server: Server;
  if (opts.tls) {
    const m = await tlsMaterial(host);
    caFile = m.caFile;
    server = createHttpsServer({ key: m.key, cert: m.cert }, app.handle) as unknown as Server;
  } else server = createHttpServer(app.handle);
  server.keepAliveTimeout = 65_000;
  server.requestTimeout = 70_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  const baseUrl = `${opts.tls ? 'https' : 'http'}://${shownHost}:${addr.port}`;
  portal.baseUrl = baseUrl;
  const webhookUrl = `${baseUrl}/rest/1/${portal.defaultWebhookCode}/`;
  // the embedded portal's credentials are this process's secrets too: redaction masks them everywhere
  registerSecret(portal.defaultWebhookCode);
  registerSecret(portal.oauth.app.clientSecret);
  registerSecret(portal.oauth.app.applicationToken);

  const dispatcher = caFile ? await tlsDispatcher(caFile) : undefined;
  const ctl = async (path: string, body?: unknown): Promise<any> => {
    const res = await fetch(baseUrl + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...(dispatcher ? { dispatcher } : {}),
    } as RequestInit);
    const json = await res.json();
    if (!res.ok) throw new Error(`sandbox control ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const admin: SandboxAdmin = {
    simulate: (req) => ctl('/sandbox/simulate', req),
    faults: async (req) => void (await ctl('/sandbox/faults', req)),
    limits: (req) => ctl('/sandbox/limits', req),
    webhook: async (req) => {
      const out = await ctl('/sandbox/webhooks', req);
      registerSecret(/\/rest\/\d+\/([^/]+)/.exec(String(out?.webhookUrl ?? ''))?.[1]);
      return out;
    },
    expireTokens: async () => void (await ctl('/sandbox/tokens/expire', {})),
    stats: () => ctl('/sandbox/stats'),
    resetStats: async () => void (await ctl('/sandbox/stats/reset', {})),
    advanceTime: async (seconds) => void (await ctl('/sandbox/time', { advanceSeconds: seconds })),
    drainEvents: async () => void (await ctl('/sandbox/events/drain', {})),
    outgoingWebhook: (req) => ctl('/sandbox/outgoing', req),
  };
  const oauth = portal.oauth.app;
  const handle: SandboxHandle = {
    webhookUrl,
    baseUrl,
    caFile,
    portal,
    server: app,
    admin,
    oauthApp: {
      clientId: oauth.clientId,
      clientSecret: oauth.clientSecret,
      memberId: oauth.memberId,
      domain: portal.domain(),
      applicationToken: oauth.applicationToken,
      install: async (o = {}) => {
        const q = new URLSearchParams({
          client_id: oauth.clientId,
          state: 'install',
          ...(o.userId ? { user_id: String(o.userId) } : {}),
        });
        const auth = await fetch(`${baseUrl}/oauth/authorize/?${q}`, {
          redirect: 'manual',
          ...(dispatcher ? { dispatcher } : {}),
        } as RequestInit);
        const loc = auth.headers.get('location');
        if (auth.status !== 302 || !loc) throw new Error(`sandbox authorize failed: HTTP ${auth.status}`);
        const code = new URL(loc).searchParams.get('code')!;
        const tq = new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: oauth.clientId,
          client_secret: oauth.clientSecret,
          code,
        });
        const tr = await fetch(`${baseUrl}/oauth/token/?${tq}`, {
          ...(dispatcher ? { dispatcher } : {}),
        } as RequestInit);
        const t = (await tr.json()) as any;
        if (!tr.ok) throw new Error(`sandbox token exchange failed: HTTP ${tr.status} ${t.error}`);
        registerSecret(t.access_token);
        registerSecret(t.refresh_token);
        const tokens: OAuthTokens = {
          access_token: t.access_token,
          refresh_token: t.refresh_token,
          expires_in: t.expires_in,
          member_id: t.member_id,
          domain: t.domain,
          client_endpoint: t.client_endpoint,
          server_endpoint: t.server_endpoint,
          application_token: oauth.applicationToken,
          scope: t.scope,
        };
        const data = { VERSION: '1', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'ru' };
        if (o.handler)
          portal.events.deliver({ ID: 0, handler: o.handler, authType: t.user_id }, 'ONAPPINSTALL', data, true);
        for (const b of portal.events.bindings)
          if (b.event === 'ONAPPINSTALL' && !b.offline) portal.events.deliver(b, 'ONAPPINSTALL', data, true);
        return tokens;
      },
    },
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
      await portal.events.drain();
      await portal.flush();
      portal.releaseLock();
      await (dispatcher as any)?.close?.();
      if (caFile) rmSync(dirname(caFile), { recursive: true, force: true });
    },
  };
  return handle;
}

async function tlsDispatcher(caFile: string): Promise<unknown> {
  const { Agent } = await import('undici');
  const { readFileSync } = await import('node:fs');
  return new Agent({ connect: { ca: readFileSync(caFile, 'utf8') } });
}

export type { Plan };
