/**
 * One limiter per portal, shared by every transport (REST v2, REST 3.0, batch) and every client object of the
 * process that talks to that portal: a token bucket for the request rate, a per-method operating tracker and a
 * concurrency cap. Source: settings/performance/limits.md.
 */
import type { OperatingOutlook } from '../clientTypes.js';
import { type LimiterWait, type OperatingTicket, OperatingTracker } from './operating.js';
import { PortalClock, sleep } from './portalClock.js';
import { LeasedBucket, leaseReserve, type SharedLearned, type SharedLimiterState } from './shared.js';
import { PLAN_PRESETS, type PlanName, type RequestBucket, TokenBucket } from './tokenBucket.js';

/** Limiter settings. Rates are portal-clock values. */
export interface LimiterConfig {
  /** `standard` (2 req/s, burst 50), `enterprise` (5 req/s, burst 250); default `standard` until learned. */
  plan?: PlanName;
  /** Overrides of the plan preset: drain in requests/s and burst in requests. */
  drain?: number;
  burst?: number;
  /** Operating budget per method per 10 min, s (default 480; 0 disables pacing). */
  operatingLimit?: number;
  /** Portal clock speed relative to real time (sandbox `clockFactor`), default 1. */
  clockFactor?: number;
  /** Maximum requests in flight for the portal (default 6). */
  maxConcurrency?: number;
  /**
   * The store's shared bucket (src/store/limiter.ts, wired by src/cli): every process and machine on the store draws
   * the portal's request slots from one row, in leases (see ./shared.ts), and shares learned limits. Without it the
   * bucket is this process's own estimate.
   */
  shared?: SharedLimiterState;
  /** Called once when the shared state fails and the limiter falls back to local pacing (a warning for the user). */
  onSharedError?: (err: unknown) => void;
  /**
   * Bucket slots kept free (default 2). The portal counts a request when it arrives, we count it when we send it; a
   * request that arrives late while the portal's counter sits at zero gets no drain credit there, so the portal can
   * be up to (delay × drain) above our estimate. Two slots cover a second of such skew on a real portal.
   */
  reserve?: number;
  /** Told of every limiter sleep before it starts, for progress output during long waits (see {@link LimiterWait}). */
  onWait?: (w: LimiterWait) => void;
}

/** Permission to send one HTTP request; give it back with {@link PortalLimiter.release}. */
export interface Permit {
  tickets: OperatingTicket[];
  released: boolean;
}

/** Counting semaphore with FIFO waiters. */
class Semaphore {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(public max: number) {}
  async acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.active < this.max) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason ?? new Error('aborted'));
      };
      this.waiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active = Math.max(0, this.active - 1);
  }
}

/** Timing block of an answer (`time`), also batch `result_time[cmd]`. Seconds / Unix seconds. */
export interface ResponseTime {
  start?: number;
  finish?: number;
  duration?: number;
  processing?: number;
  date_start?: string;
  date_finish?: string;
  operating?: number;
  operating_reset_at?: number;
}

export class PortalLimiter {
  readonly clock: PortalClock;
  /** The request bucket: this process's own estimate, or leases of the store's shared row (`config.shared`). */
  bucket: RequestBucket;
  readonly operating: OperatingTracker;
  private readonly sem: Semaphore;
  plan: PlanName;
  private backoffUntil = 0;
  /** Slots kept free for timing skew (the lease reserve comes on top in shared mode). */
  private baseReserve: number;
  private shared: SharedLimiterState | undefined;
  private onSharedError: ((err: unknown) => void) | undefined;

  /** @param portalKey the limiter key (`webhook:<host>`, `oauth:<member_id>`): the shared row's name */
  constructor(
    config: LimiterConfig = {},
    readonly portalKey = 'portal',
  ) {
    this.clock = new PortalClock(config.clockFactor ?? 1);
    this.plan = config.plan ?? 'standard';
    const preset = PLAN_PRESETS[this.plan];
    this.baseReserve = config.reserve ?? 2;
    this.bucket = new TokenBucket(
      this.clock,
      config.drain ?? preset.drain,
      config.burst ?? preset.burst,
      this.baseReserve,
    );
    this.operating = new OperatingTracker(this.clock, config.operatingLimit ?? 480);
    this.sem = new Semaphore(config.maxConcurrency ?? 6);
    this.onSharedError = config.onSharedError;
    this.operating.onWait = config.onWait;
    if (config.shared) this.share(config.shared);
  }

  /**
   * The operating budget as seen here: limit, window, the portal clock (now, speed-up) and each method's spent sum,
   * reset time and measured cost per call (see `OperatingOutlook` of ../clientTypes.ts).
   */
  outlook(): OperatingOutlook {
    return {
      limit: this.operating.limit,
      windowS: 600,
      now: this.clock.now(),
      factor: this.clock.factor,
      methods: this.operating.snapshot(),
    };
  }

  /** Draws the portal's request slots from a shared bucket from now on (see ./shared.ts). */
  private share(shared: SharedLimiterState): void {
    this.shared = shared;
    const { drain, burst } = this.bucket;
    this.bucket = new LeasedBucket(
      this.clock,
      shared,
      this.portalKey,
      {
        plan: () => this.plan,
        learned: (l) => this.adopt(l),
        fallback: (err) => this.onSharedError?.(err),
      },
      drain,
      burst,
      this.baseReserve + leaseReserve(drain, burst, this.clock.factor),
    );
  }

  /** Switches the bucket's rates (the lease reserve follows the drain). */
  private setRates(drain: number, burst: number): void {
    this.bucket.setRates(drain, burst);
    this.bucket.reserve = this.baseReserve + (this.shared ? leaseReserve(drain, burst, this.clock.factor) : 0);
  }

  /** Applies limits another process learned (shared mode). */
  private adopt(l: SharedLearned): void {
    if (l.plan === 'standard' && this.plan !== 'standard') {
      const std = PLAN_PRESETS.standard;
      this.plan = 'standard';
      this.setRates(Math.min(this.bucket.drain, std.drain), Math.min(this.bucket.burst, std.burst));
    }
    if (l.backoffUntilMs && l.backoffUntilMs > Date.now()) {
      const until = this.clock.now() + ((l.backoffUntilMs - Date.now()) / 1000) * this.clock.factor;
      this.backoffUntil = Math.max(this.backoffUntil, until);
    }
    if (l.parked)
      for (const [method, until] of Object.entries(l.parked))
        if (until > this.clock.now() && this.operating.parkedUntil(method) < until) this.operating.park(method, until);
  }

  /** Applies new settings to a live limiter (e.g. a second client asking for the same portal with a clock factor). */
  configure(config: LimiterConfig): void {
    if (config.clockFactor !== undefined) this.clock.factor = config.clockFactor;
    if (config.reserve !== undefined) this.baseReserve = config.reserve;
    if (config.plan !== undefined) {
      this.plan = config.plan;
      const p = PLAN_PRESETS[config.plan];
      this.setRates(config.drain ?? p.drain, config.burst ?? p.burst);
    } else {
      this.setRates(config.drain ?? this.bucket.drain, config.burst ?? this.bucket.burst);
    }
    if (config.operatingLimit !== undefined) this.operating.limit = config.operatingLimit;
    if (config.maxConcurrency !== undefined) this.sem.max = config.maxConcurrency;
    if (config.onSharedError !== undefined) this.onSharedError = config.onSharedError;
    if (config.onWait !== undefined) this.operating.onWait = config.onWait;
    if (config.shared !== undefined && config.shared !== this.shared) this.share(config.shared);
  }

  /**
   * Waits for permission to send one request that runs `methods` (one entry per method with its number of calls;
   * a batch lists its sub-calls, the outer `batch` itself has no operating cost).
   * @throws the signal's reason when aborted while waiting
   */
  async acquire(methods: Array<{ method: string; calls: number }>, signal?: AbortSignal): Promise<Permit> {
    const tickets: OperatingTicket[] = [];
    try {
      for (const m of methods) tickets.push(await this.operating.reserve(m.method, m.calls, signal));
      await this.sem.acquire(signal);
    } catch (err) {
      for (const t of tickets) this.operating.cancel(t);
      throw err;
    }
    try {
      const now = this.clock.now();
      if (now < this.backoffUntil) {
        const ms = this.clock.toRealMs(this.backoffUntil - now);
        this.operating.onWait?.({ reason: 'backoff', ms });
        await sleep(ms, signal);
      }
      await this.bucket.acquire(signal);
    } catch (err) {
      this.sem.release();
      for (const t of tickets) this.operating.cancel(t);
      throw err;
    }
    return { tickets, released: false };
  }

  /** Returns a permit (after the answer was recorded). */
  release(permit: Permit): void {
    if (permit.released) return;
    permit.released = true;
    for (const t of permit.tickets) this.operating.release(t);
    this.sem.release();
  }

  /** Feeds one call's timing (top-level `time` or a batch sub-call's `result_time`). */
  observe(method: string, time: ResponseTime | undefined): void {
    if (!time) return;
    this.clock.observe(time.finish);
    if (method.toLowerCase() === 'batch') return; // the outer batch is not counted
    const cost = time.processing ?? time.duration;
    this.operating.record(method, cost, time.operating, time.operating_reset_at);
  }

  /**
   * A 503 `QUERY_LIMIT_EXCEEDED` arrived: drain and back off with jitter. When the plan was not configured and the
   * trip happened well below our burst estimate, learn the smaller (standard) preset.
   * @returns the real ms to wait before retrying
   */
  onQueryLimit(attempt: number): number {
    const level = this.bucket.current();
    const std = PLAN_PRESETS.standard;
    // The portal's bucket overflowed while we believed there was room: the real limits are tighter than assumed
    // (a smaller plan, or other clients on the same portal and IP). Learn the standard preset.
    if (
      level + 1 < this.bucket.burst - this.bucket.reserve - 1 &&
      (this.bucket.burst > std.burst || this.bucket.drain > std.drain)
    ) {
      this.plan = 'standard';
      this.setRates(Math.min(this.bucket.drain, std.drain), Math.min(this.bucket.burst, std.burst));
    }
    this.bucket.onOverflow();
    const base = Math.min(16, 2 ** attempt) / this.bucket.drain; // portal seconds
    const wait = base * (0.5 + Math.random());
    this.backoffUntil = Math.max(this.backoffUntil, this.clock.now() + wait);
    const waitMs = this.clock.toRealMs(wait);
    if (this.bucket instanceof LeasedBucket) this.bucket.reportOverflow(Date.now() + waitMs);
    return waitMs;
  }

  /** A 429 `OPERATION_TIME_LIMIT` for `method`: park it until `resetAt` (portal Unix s). Returns the portal time. */
  onOperationLimit(method: string, resetAt?: number): number {
    const until = this.operating.park(method, resetAt);
    if (this.bucket instanceof LeasedBucket) this.bucket.reportParked(method, until);
    return until;
  }

  /** Database round trips, slots granted and slots dropped unused of the shared bucket (zeros in local mode). */
  leaseStats(): { takes: number; granted: number; expired: number; degraded: boolean } {
    const b = this.bucket;
    return b instanceof LeasedBucket
      ? { takes: b.takes, granted: b.granted, expired: b.expired, degraded: b.degraded }
      : { takes: 0, granted: 0, expired: 0, degraded: false };
  }
}

const registry = new Map<string, PortalLimiter>();

/**
 * The process-wide limiter of a portal (key: member_id, or the webhook's host). Every client for the same portal
 * gets the same object, whatever transport it uses. A later call with a config re-configures the shared limiter.
 */
export function limiterFor(portalKey: string, config?: LimiterConfig): PortalLimiter {
  let l = registry.get(portalKey);
  if (!l) {
    l = new PortalLimiter(config, portalKey);
    registry.set(portalKey, l);
  } else if (config) {
    l.configure(config);
  }
  return l;
}

/** Drops a portal's shared limiter (tests, bench between runs). */
export function forgetLimiter(portalKey: string): void {
  registry.delete(portalKey);
}
