/**
 * Per-method operating-time tracker (settings/performance/limits.md, "resource limit"): the portal sums each method's
 * execution time over ten one-minute buckets (a 10-minute window) per app/webhook; the first call after the sum passes
 * the limit (example 480 s) gets 429 `OPERATION_TIME_LIMIT` until `operating_reset_at`.
 *
 * Fed by `time.operating` / `time.operating_reset_at` of every answer and by batch `result_time` (per sub-call).
 * Before a call the tracker reserves the expected cost; when the method would pass its budget it parks only that
 * method until the portal reports the oldest bucket expired (other methods keep going). All times are portal seconds.
 */
import { type PortalClock, sleep } from './portalClock.js';

interface MethodState {
  /** Last operating sum reported by the portal (s), and when (portal time). */
  reported: number;
  reportedAt: number;
  /** Portal time when the oldest bucket expires (Unix s); 0 when unknown. */
  resetAt: number;
  /** Our own costs since `reportedAt` (s). */
  sinceReport: number;
  /** Our own costs per one-minute bucket (key = floor(portal time / 60)). */
  buckets: Map<number, number>;
  /** Cost reserved by calls in flight (s), and how many calls are in flight. */
  inflight: number;
  inflightCalls: number;
  /** Cost of the last call (s). */
  lastCost: number;
  /** Exponential average of one call's cost (s). */
  avgCost: number;
  /** Parked until this portal time (after a 429). */
  parkedUntil: number;
  /** After the reset time passed with no fresh report, only one probe call may run. */
  probing: boolean;
}

/** A reservation returned by {@link OperatingTracker.reserve}; release it with the measured costs. */
export interface OperatingTicket {
  method: string;
  calls: number;
  reserved: number;
}

/**
 * A wait the limiter is about to do before sending a request, reported through `LimiterConfig.onWait` so that a
 * front end can show progress during long waits (the limiter itself prints nothing). One event per sleep: a long
 * wait made of many short sleeps (pacing) comes as many events.
 */
export interface LimiterWait {
  /**
   * `parked`: the method got 429 OPERATION_TIME_LIMIT and waits for its reset; `operating`: paced by the method's
   * operating budget; `backoff`: after a 503 QUERY_LIMIT_EXCEEDED.
   */
  reason: 'parked' | 'operating' | 'backoff';
  /** The method waiting (absent for `backoff`, which holds every method of the portal). */
  method?: string;
  /** Real milliseconds of this sleep. */
  ms: number;
}

export class OperatingTracker {
  private readonly methods = new Map<string, MethodState>();
  /** Total real ms callers spent parked. */
  waitedMs = 0;
  /** Told of every sleep before it starts (see {@link LimiterWait}). */
  onWait: ((w: LimiterWait) => void) | undefined;

  /**
   * @param limit operating budget per method per 10 minutes, s (Bitrix24 cloud example 480); 0 disables pacing
   * @param margin seconds kept free below the limit (default: 2 % of the limit, at most 5 s)
   */
  constructor(
    private readonly clock: PortalClock,
    public limit = 480,
    private readonly fixedMargin?: number,
  ) {}

  /** Seconds kept free below the limit. */
  get margin(): number {
    return this.fixedMargin ?? Math.min(5, this.limit * 0.02);
  }

  private state(method: string): MethodState {
    const key = method.toLowerCase();
    let s = this.methods.get(key);
    if (!s) {
      s = {
        reported: 0,
        reportedAt: 0,
        resetAt: 0,
        sinceReport: 0,
        buckets: new Map(),
        inflight: 0,
        inflightCalls: 0,
        lastCost: 0.05,
        avgCost: 0.05,
        parkedUntil: 0,
        probing: false,
      };
      this.methods.set(key, s);
    }
    return s;
  }

  private localSum(s: MethodState, now: number): number {
    const minBucket = Math.floor(now / 60) - 9;
    let sum = 0;
    for (const [b, v] of s.buckets) {
      if (b < minBucket) s.buckets.delete(b);
      else sum += v;
    }
    return sum;
  }

  /** Estimated operating sum (s) of a method right now. */
  estimate(method: string): number {
    const s = this.state(method);
    const now = this.clock.now();
    const local = this.localSum(s, now);
    if (s.reportedAt && (s.resetAt === 0 || now < s.resetAt + this.clock.slack()))
      return Math.max(s.reported + s.sinceReport, local);
    return local;
  }

  /**
   * Waits until `calls` calls of `method` fit into the method's budget and reserves their expected cost.
   * @throws the signal's reason when aborted while parked
   */
  async reserve(method: string, calls = 1, signal?: AbortSignal): Promise<OperatingTicket> {
    const s = this.state(method);
    const started = Date.now();
    for (;;) {
      signal?.throwIfAborted();
      const now = this.clock.now();
      if (now < s.parkedUntil) {
        const ms = this.clock.toRealMs(s.parkedUntil - now) + 5;
        this.onWait?.({ reason: 'parked', method, ms });
        await sleep(ms, signal);
        continue;
      }
      if (this.limit <= 0) break;
      const unit = Math.max(s.avgCost, s.lastCost);
      const want = unit * calls;
      const est = this.estimate(method);
      const room = this.limit - this.margin;
      if (est + s.inflight + want <= room) {
        // Past half the budget, calls of this method go one at a time so each one sees the portal's fresh sum:
        // concurrent calls would all pass the portal's check and overshoot it together.
        if (s.inflightCalls === 0 || est + s.inflight + want <= this.limit * 0.5) break;
        const ms = this.clock.toRealMs(Math.max(0.05, unit));
        this.onWait?.({ reason: 'operating', method, ms });
        await sleep(ms, signal);
        continue;
      }
      // Over budget: wait for the oldest bucket to expire, then let one probe call learn the new sum.
      const reset =
        s.resetAt + this.clock.slack() > now ? s.resetAt + this.clock.slack() : this.oldestLocalExpiry(s, now);
      if (reset > now) {
        const ms = this.clock.toRealMs(reset - now) + 5;
        this.onWait?.({ reason: 'operating', method, ms });
        await sleep(ms, signal);
        continue;
      }
      if (s.inflight === 0) {
        // Nothing in flight and no known reset: trust the next report (a single probe).
        s.probing = true;
        break;
      }
      this.onWait?.({ reason: 'operating', method, ms: this.clock.toRealMs(0.5) });
      await sleep(this.clock.toRealMs(0.5), signal);
    }
    this.waitedMs += Date.now() - started;
    const reserved = Math.max(s.avgCost, s.lastCost) * calls;
    s.inflight += reserved;
    s.inflightCalls += calls;
    return { method, calls, reserved };
  }

  private oldestLocalExpiry(s: MethodState, now: number): number {
    this.localSum(s, now);
    let oldest = Number.POSITIVE_INFINITY;
    for (const b of s.buckets.keys()) oldest = Math.min(oldest, b);
    return Number.isFinite(oldest) ? (oldest + 10) * 60 + this.clock.slack() : 0;
  }

  /** How many more calls of `method` fit into its budget right now (Infinity when pacing is off). */
  capacity(method: string): number {
    if (this.limit <= 0) return Number.POSITIVE_INFINITY;
    const s = this.state(method);
    const unit = Math.max(s.avgCost, s.lastCost, 1e-6);
    return Math.floor((this.limit - this.margin - this.estimate(method) - s.inflight) / unit);
  }

  /** Releases a reservation without any report (the call failed before the portal ran it). */
  cancel(ticket: OperatingTicket): void {
    const s = this.state(ticket.method);
    s.inflight = Math.max(0, s.inflight - ticket.reserved);
    s.inflightCalls = Math.max(0, s.inflightCalls - ticket.calls);
  }

  /**
   * Records one executed call: its cost (s, `processing` or `duration`) and, when the portal reported them, the
   * method's `operating` sum and `operating_reset_at`.
   */
  record(method: string, cost: number | undefined, operating?: number, resetAt?: number): void {
    const s = this.state(method);
    const now = this.clock.now();
    // The portal charges its own idea of a call's cost; the growth of the reported sum is the best measure of it
    // (it may include other clients' calls — an overestimate, which is the safe side).
    if (typeof operating === 'number' && Number.isFinite(operating)) {
      if (s.reportedAt && operating > s.reported) cost = Math.max(cost ?? 0, operating - s.reported);
      // First report: the sum so far is at least this call; capped, since older calls may be in it too.
      else if (!s.reportedAt && operating > 0) cost = Math.max(cost ?? 0, Math.min(operating, 2));
    }
    if (typeof cost === 'number' && Number.isFinite(cost) && cost >= 0) {
      s.avgCost = s.avgCost * 0.8 + cost * 0.2;
      s.lastCost = cost;
      const b = Math.floor(now / 60);
      s.buckets.set(b, (s.buckets.get(b) ?? 0) + cost);
      s.sinceReport += cost;
    }
    if (typeof operating === 'number' && Number.isFinite(operating)) {
      s.reported = operating;
      s.reportedAt = now;
      s.sinceReport = 0;
      s.probing = false;
    }
    if (typeof resetAt === 'number' && Number.isFinite(resetAt) && resetAt > 0) s.resetAt = resetAt;
  }

  /** Finishes a reservation (its costs were recorded with {@link record}). */
  release(ticket: OperatingTicket): void {
    this.cancel(ticket);
  }

  /** Portal time (Unix s) a method is parked until; 0 when it is not parked. */
  parkedUntil(method: string): number {
    return this.methods.get(method.toLowerCase())?.parkedUntil ?? 0;
  }

  /** Parks a method after a 429 until `resetAt` (portal Unix s), or for `fallbackSeconds` when unknown. */
  park(method: string, resetAt?: number, fallbackSeconds = 60): number {
    const s = this.state(method);
    const now = this.clock.now();
    const until =
      (resetAt && resetAt > now ? resetAt : s.resetAt > now ? s.resetAt : now + fallbackSeconds) + this.clock.slack();
    s.parkedUntil = Math.max(s.parkedUntil, until);
    s.reported = Math.max(s.reported, this.limit);
    s.reportedAt = now;
    s.resetAt = until;
    return until;
  }

  /** Snapshot for diagnostics: method → {estimate s, resetAt}. */
  snapshot(): Record<string, { operating: number; resetAt: number; avgCost: number }> {
    const out: Record<string, { operating: number; resetAt: number; avgCost: number }> = {};
    for (const [m, s] of this.methods) out[m] = { operating: this.estimate(m), resetAt: s.resetAt, avgCost: s.avgCost };
    return out;
  }
}
