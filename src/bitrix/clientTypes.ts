/**
 * Shapes of the client's calls and counters (src/bitrix/client.ts re-exports them).
 */
import type { ResponseTime } from './limiter/index.js';

/** Which portal a client talks to. */
export interface PortalInfo {
  /** member_id (OAuth) or host of the webhook (`example.bitrix24.com`). */
  id: string;
  kind: 'webhook' | 'oauth';
  /** Plan the limiter currently assumes. */
  plan?: 'standard' | 'enterprise';
}

/** The answer of one call. `total`/`next` only on list methods; `time` in seconds. */
export interface CallResult<T = unknown> {
  result: T;
  total?: number;
  next?: number;
  time?: ResponseTime;
}

/** Options of one call. */
export interface CallOptions {
  signal?: AbortSignal;
  /**
   * Idempotency key (1–255 printable ASCII). Sent as `Idempotency-Key` (REST 3.0 caches the answer 24 h); with it a
   * write is retried after a network error or a 5xx — without it a write is never resent after it may have run.
   */
  idempotencyKey?: string;
  /**
   * 3 = REST 3.0 (`/rest/api/`) with the params as given; 2 = REST 2 only. Default: REST 3.0 where the catalog
   * marks the method `rest_v3` and its params translate (src/bitrix/restV3.ts), else REST 2.
   */
  version?: 2 | 3;
}

/**
 * What the portal's operating budget looks like from this client: the budget per method per window, the portal clock
 * (now, and its speed-up for a sandbox), and per method the operating seconds spent in the current window, when the
 * oldest of them drop out (portal Unix s) and the measured average cost of one call (s).
 * Source: apidocs.bitrix24.com settings/performance/limits ("resource limit", `operating`, `operating_reset_at`).
 */
export interface OperatingOutlook {
  /** Seconds of server time per method per 10-minute window (0: not paced). */
  limit: number;
  /** The window, portal seconds (600). */
  windowS: number;
  /** Portal time now, Unix s. */
  now: number;
  /** Portal seconds per real second (1 on a real portal). */
  factor: number;
  methods: Record<string, { operating: number; resetAt: number; avgCost: number }>;
}

/** Counters of one client. */
export interface ClientStats {
  /** HTTP requests sent (a batch counts once). */
  requests: number;
  /** Requests that were resends of an earlier one. */
  retries: number;
  /** 503 `QUERY_LIMIT_EXCEEDED` answers received. */
  status503: number;
  /** 429 `OPERATION_TIME_LIMIT` answers received (HTTP or batch sub-call). */
  status429: number;
  /** Real ms spent waiting in the limiter (bucket + operating pacing). */
  limiterWaitMs: number;
  /** Token refreshes performed for this portal. */
  refreshes: number;
  /** Calls sent over REST 3.0 by default routing, and those that fell back to REST 2 (the portal had no REST 3.0). */
  restV3: { calls: number; fallbacks: number };
}

/**
 * One HTTP exchange of a client as it ended: an answer (any status) or no answer (`status` 0, code `NETWORK`).
 * Told to {@link CallObserver} after each exchange, resends included; a batch is one exchange (`transport: 'batch'`,
 * `method: 'batch'`).
 */
export interface CallObservation {
  /** The REST method of the request (`crm.deal.add`, `batch`). */
  method: string;
  /** `rest2` (`/rest/`), `rest3` (`/rest/api/`) or `batch` (a REST 2 batch request). */
  transport: 'rest2' | 'rest3' | 'batch';
  /** HTTP status; 0 when no answer came. */
  status: number;
  /** The error code of a failure (`QUERY_LIMIT_EXCEEDED`, `OPERATION_TIME_LIMIT`, `NETWORK`, …); absent on success. */
  code?: string;
  /** Time from sending the request to its answer, seconds (limiter waits excluded). */
  seconds: number;
}

/** Watches a client's exchanges (metrics); must not throw. Passed in by the composition root. */
export type CallObserver = (c: CallObservation) => void;
