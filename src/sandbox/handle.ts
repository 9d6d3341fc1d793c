/**
 * The shapes of a running sandbox portal as the rest of the project sees it: start options, the handle with its
 * webhook URL, OAuth app and admin client, and the tokens of the OAuth install flow. The OAuth shapes follow
 * apidocs.bitrix24.com/settings/oauth/index.html (doc settings/oauth/index.md).
 */
import type { Plan } from './limits.js';
import type { Portal } from './portal.js';
import type { SandboxServer } from './server.js';

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
  /** false: a portal without REST 3.0 (`/rest/api/…` answers 404 `ERROR_METHOD_NOT_FOUND`); default true */
  restV3?: boolean;
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
   * (process, then drop), `lost-answer` (like reset_after, and also for a `batch` holding a command of `method`), `500`, `html` (502 proxy page), `timeout` (no answer for 65 s), and canned limit/auth
   * answers without tripping the limiters: `503` QUERY_LIMIT_EXCEEDED, `429` OPERATION_TIME_LIMIT, `401` expired_token.
   */
  faults(req: {
    method: string;
    kind: 'reset' | '500' | 'html' | 'timeout' | 'reset_after' | 'lost-answer' | '503' | '429' | '401';
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
  /** zero the server-side counters */
  resetStats(): Promise<void>;
  /** advance the sandbox clock */
  advanceTime(seconds: number): Promise<void>;
  /** wait until in-flight event deliveries finished */
  drainEvents(): Promise<void>;
  /** an outgoing webhook (portal UI style): events POSTed to `handler` with its own application_token, no OAuth */
  outgoingWebhook(req: { event: string; handler: string }): Promise<{ id: number; applicationToken: string }>;
  /** the notifications users received (`im.notify.*`), oldest first; `user` = one user's only */
  notifications(user?: number): Promise<SandboxNotification[]>;
}

/** A notification as the sandbox keeps it (`im.notify.system.add` and friends; `DATE` in ms of the sandbox clock). */
export interface SandboxNotification {
  ID: number;
  USER_ID: number;
  MESSAGE: string;
  TYPE: string;
  TAG: string;
  DATE: number;
}

/**
 * A running sandbox as seen over HTTP: what a process needs to use a sandbox it did not start (its URLs, OAuth app
 * and control client). {@link SandboxHandle} adds the in-process parts of one this process started.
 */
export interface SandboxEndpoint {
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
  /** Whether the sandbox answers (`GET /sandbox/stats`) within `timeoutMs`; never throws. */
  ping(timeoutMs: number): Promise<boolean>;
  /** release what this view holds (the TLS agent); the sandbox itself keeps running */
  close(): Promise<void>;
}

/** A sandbox this process started. */
export interface SandboxHandle extends SandboxEndpoint {
  /** the in-process portal (tests/benchmarks only; not part of the HTTP contract) */
  portal: Portal;
  /** the in-process request handler (benchmarks attach `onTiming` to it) */
  server: SandboxServer;
  /**
   * Stop serving, wait for event deliveries, write pending state, release the data-dir lock. With `graceMs`, first
   * wait (at most that long) until no request is in flight and none came for a moment, so that other processes
   * using the sandbox are not cut off in the middle of a request; without, connections are dropped at once.
   */
  close(opts?: { graceMs?: number }): Promise<void>;
}

/** What a process needs to reach a running sandbox: {@link SandboxEndpoint} minus its functions. */
export interface SandboxAddress {
  baseUrl: string;
  webhookUrl: string;
  caFile?: string;
  oauthApp: Omit<SandboxEndpoint['oauthApp'], 'install'>;
}
