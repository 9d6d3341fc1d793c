/**
 * One limiter per portal, shared by every transport (REST v2, REST 3.0, batch) and every client object of the
 * process that talks to that portal: a token bucket for the request rate, a per-method operating tracker and a
 * concurrency cap. Source: settings/performance/limits.md.
 */
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from '../../lib/atomic.js';
import { type OperatingTicket, OperatingTracker } from './operating.js';
import { PortalClock, sleep } from './portalClock.js';
import { PLAN_PRESETS, type PlanName, TokenBucket } from './tokenBucket.js';

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
   * File where the request counter is shared with other processes (e.g. successive `b24flow` commands): read when the
   * limiter is created, written when a client closes. Best effort: concurrent processes each see the other's last
   * snapshot, not every request.
   */
  stateFile?: string;
  /**
   * Bucket slots kept free (default 2). The portal counts a request when it arrives, we count it when we send it; a
   * request that arrives late while the portal's counter sits at zero gets no drain credit there, so the portal can
   * be up to (delay × drain) above our estimate. Two slots cover a second of such skew on a real portal.
   */
  reserve?: number;
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
  readonly bucket: TokenBucket;
  readonly operating: OperatingTracker;
  private readonly sem: Semaphore;
  plan: PlanName;
  private backoffUntil = 0;
  private stateFile: string | undefined;

  constructor(config: LimiterConfig = {}) {
    this.clock = new PortalClock(config.clockFactor ?? 1);
    this.plan = config.plan ?? 'standard';
    const preset = PLAN_PRESETS[this.plan];
    this.bucket = new TokenBucket(
      this.clock,
      config.drain ?? preset.drain,
      config.burst ?? preset.burst,
      config.reserve ?? 2,
    );
    this.operating = new OperatingTracker(this.clock, config.operatingLimit ?? 480);
    this.sem = new Semaphore(config.maxConcurrency ?? 6);
    if (config.stateFile) this.shareState(config.stateFile);
  }

  /** Starts sharing the request counter through `file` (reads the last snapshot now). */
  shareState(file: string): void {
    this.stateFile = file;
    try {
      const snap = JSON.parse(readFileSync(file, 'utf8')) as { level: number; at: number; plan?: PlanName };
      if (snap.plan === 'standard' && this.plan !== 'standard') {
        // another process learned that the portal is on the standard plan
        this.plan = 'standard';
        this.bucket.setRates(PLAN_PRESETS.standard.drain, PLAN_PRESETS.standard.burst);
      }
      this.bucket.adopt(snap);
    } catch {
      // no snapshot yet, or unreadable: start empty
    }
  }

  /** Writes the request counter for later processes (no-op without a state file). Never throws. */
  saveState(): void {
    if (!this.stateFile) return;
    try {
      writeFileAtomicSync(this.stateFile, JSON.stringify({ ...this.bucket.snapshot(), plan: this.plan }), 0o600);
    } catch {
      // sharing is best effort
    }
  }

  /** Applies new settings to a live limiter (e.g. a second client asking for the same portal with a clock factor). */
  configure(config: LimiterConfig): void {
    if (config.clockFactor !== undefined) this.clock.factor = config.clockFactor;
    if (config.plan !== undefined) {
      this.plan = config.plan;
      const p = PLAN_PRESETS[config.plan];
      this.bucket.setRates(config.drain ?? p.drain, config.burst ?? p.burst);
    } else if (config.drain !== undefined || config.burst !== undefined) {
      this.bucket.setRates(config.drain ?? this.bucket.drain, config.burst ?? this.bucket.burst);
    }
    if (config.operatingLimit !== undefined) this.operating.limit = config.operatingLimit;
    if (config.maxConcurrency !== undefined) this.sem.max = config.maxConcurrency;
    if (config.reserve !== undefined) this.bucket.reserve = config.reserve;
    if (config.stateFile !== undefined && config.stateFile !== this.stateFile) this.shareState(config.stateFile);
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
      if (now < this.backoffUntil) await sleep(this.clock.toRealMs(this.backoffUntil - now), signal);
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
      this.bucket.setRates(Math.min(this.bucket.drain, std.drain), Math.min(this.bucket.burst, std.burst));
    }
    this.bucket.onOverflow();
    const base = Math.min(16, 2 ** attempt) / this.bucket.drain; // portal seconds
    const wait = base * (0.5 + Math.random());
    this.backoffUntil = Math.max(this.backoffUntil, this.clock.now() + wait);
    return this.clock.toRealMs(wait);
  }

  /** A 429 `OPERATION_TIME_LIMIT` for `method`: park it until `resetAt` (portal Unix s). Returns the portal time. */
  onOperationLimit(method: string, resetAt?: number): number {
    return this.operating.park(method, resetAt);
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
    l = new PortalLimiter(config);
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
