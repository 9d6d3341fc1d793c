/**
 * One request bucket per portal across processes and machines (issue 12): the portal's leaky bucket
 * (settings/performance/limits.md: every HTTP request adds 1, the level drains at `drain`/s, a request that finds the
 * level at `burst` gets 503 `QUERY_LIMIT_EXCEEDED`) is mirrored in a shared row (src/store/limiter.ts implements
 * {@link SharedLimiterState}); every process draws its request slots from that row.
 *
 * Leases. A round trip to the database per request would cost more than the request's own pacing on a fast portal,
 * so a process takes slots in small leases: one `take` grants up to `want` slots, counted in the shared level at
 * once. A granted slot is valid for L = {@link leasePortalSeconds} of portal time; a slot not used by then is dropped
 * (never returned: the shared level already drained for it). Why the aggregate rate stays within the portal's bound:
 * a request sent at time t was granted in [t − L, t], so the requests the portal counted in any window [s, t] were
 * granted in [s − L, t]; the portal's level therefore never exceeds the shared level by more than `drain × L` slots,
 * which are kept free on top of the usual reserve, together with a scheduling delay (see {@link leaseReserve}).
 *
 * Lease size: at most `drain × L` slots; the callers waiting now, or more when the process's last lease was used up in
 * time and the shared bucket has room to spare (doubling; cut back to what was used when slots expired, and to the
 * waiting callers when the bucket is nearly full), so the lease follows the process's rate and no slot another process
 * waits for expires unused. Only one `take` of a process is in flight at a time; after a partial grant (a starved
 * bucket) the process comes back when the row says the rest will have drained, not at once.
 *
 * Learned limits are written to the row too: a 503 fills the shared level and sets a back-off every process honours;
 * a 429 parks the method for every process until `operating_reset_at`; a portal found to be on the standard plan is
 * paced as such by everyone. (The per-method operating sums need no sharing: the portal reports the method's sum
 * over all clients of the application or webhook in every answer's `time.operating`.)
 */
import { type PortalClock, sleep } from './portalClock.js';
import { type PlanName, type RequestBucket, TokenBucket } from './tokenBucket.js';

/**
 * Portal seconds a leased request slot stays usable (L, see module doc): the time the portal needs to drain a tenth of
 * its burst (standard 2.5 s, enterprise 5 s), so the lease reserve costs a tenth of the burst, within [0.5, 10] s.
 */
export function leasePortalSeconds(drain: number, burst: number): number {
  return Math.min(10, Math.max(0.5, burst / (10 * Math.max(1e-9, drain))));
}

/**
 * Real seconds allowed between a grant and the portal counting the request, beyond the lease (the process's event
 * loop, the network and the portal's own queue under load); a sped-up sandbox clock multiplies them.
 */
export const SCHEDULING_DELAY_S = 0.15;

/**
 * Slots kept free in the shared level for leases in flight: `drain × (L + delay × clockFactor)`, at least 1 (standard
 * plan on a real portal: 6) and at most 40 % of the burst (a sandbox clock sped up 1,000× would otherwise reserve
 * more than the whole bucket and never grant a slot).
 */
export function leaseReserve(drain: number, burst: number, clockFactor = 1): number {
  const want = Math.ceil(drain * (leasePortalSeconds(drain, burst) + SCHEDULING_DELAY_S * clockFactor));
  return Math.max(1, Math.min(want, Math.floor(burst * 0.4)));
}

/** What a process asks the shared bucket for. Rates are portal values; `clockFactor` maps them to wall time. */
export interface LeaseRequest {
  /** Slots wanted (≥ 1). */
  want: number;
  /** The process's idea of the bucket: drain (requests per portal second) and burst (requests). */
  drain: number;
  burst: number;
  /** Slots kept free below `burst` (timing skew and leases in flight). */
  reserve: number;
  /** Portal seconds per real second (sandbox clock factor; 1 on a real portal). */
  clockFactor: number;
  /** The plan the process assumes (the row keeps the smallest one learned). */
  plan: PlanName;
}

/** Limits learned by some process and shared through the row. */
export interface SharedLearned {
  /** The smallest plan any process learned from a 503 (`standard` after a trip below the enterprise burst). */
  plan?: PlanName;
  /** No request before this wall time (Unix ms): a 503 back-off. */
  backoffUntilMs?: number;
  /** Methods parked after a 429: method (lower case) → portal time (Unix s) they may run again. */
  parked?: Record<string, number>;
}

/** The answer of {@link SharedLimiterState.take}. */
export interface LeaseGrant {
  /** Slots granted (0 … want), counted in the shared level already. */
  granted: number;
  /** When fewer were granted than wanted: real ms until `want` slots should be free. */
  retryMs: number;
  /** The shared level after the grant (requests), for diagnostics and tests. */
  level: number;
  learned: SharedLearned;
}

/** Something a process learned from the portal, for every other process. */
export type LimiterEvent =
  /** A 503 `QUERY_LIMIT_EXCEEDED`: the portal's level is at `burst`; back off until `backoffUntilMs` (Unix ms). */
  | { kind: 'query-limit'; burst: number; backoffUntilMs: number; plan?: PlanName }
  /** A 429 `OPERATION_TIME_LIMIT` for `method`: parked until `until` (portal Unix s). */
  | { kind: 'operation-limit'; method: string; until: number };

/**
 * The shared state of every portal's bucket (implemented in src/store/limiter.ts; src/cli passes it in
 * `LimiterConfig.shared`). `portal` is the limiter key (`webhook:<host>` or `oauth:<member_id>`).
 */
export interface SharedLimiterState {
  /**
   * Atomically refills the portal's shared level by the time elapsed, grants up to `req.want` slots that fit under
   * `burst − reserve` and writes the level back.
   * @throws the database's error (the caller then paces locally)
   */
  take(portal: string, req: LeaseRequest): Promise<LeaseGrant>;
  /** Records a learned limit for every process. @throws the database's error */
  report(portal: string, event: LimiterEvent): Promise<void>;
}

/** Hooks of the portal limiter a {@link LeasedBucket} reports learned limits to. */
export interface LeaseHooks {
  /** The plan the limiter assumes now. */
  plan(): PlanName;
  /** Another process learned limits (applied by the limiter: plan preset, back-off, parked methods). */
  learned(l: SharedLearned): void;
  /** The shared state failed (the bucket paces locally from then on): say so once. */
  fallback(err: unknown): void;
}

/**
 * The request bucket of a portal in shared mode: slots come in leases from a {@link SharedLimiterState} (see module
 * doc). Counters: `takes` (database round trips), `granted`, `expired` (slots dropped unused).
 */
export class LeasedBucket implements RequestBucket {
  waitedMs = 0;
  takes = 0;
  granted = 0;
  expired = 0;
  private slots = 0;
  /** The shared level at the last grant and when (performance.now() ms). */
  private lastLevel = 0;
  private lastLevelAt = 0;
  /** performance.now() ms when the leased slots expire. */
  private slotsUntil = 0;
  private pending = 0;
  /**
   * Lease size the process asks for beyond its waiting callers (AIMD): doubled when a lease was used up before it
   * expired, cut to what was used when slots expired unused. At most `drain × L`.
   */
  private target = 1;
  /** Slots granted by the current lease, and whether the last one ended with slots expiring. */
  private leaseGranted = 0;
  private wasted = false;
  /** The last grant found the shared bucket (nearly) full: other processes want the slots too. */
  private starved = false;
  /** performance.now() ms before which the next take is pointless: the last grant was partial (starved bucket). */
  private nextTakeAt = 0;
  private tail: Promise<void> = Promise.resolve();
  /** Set after a 503 until the shared row has been told (the next take waits for that report). */
  private overflowReport: Promise<void> | undefined;
  /** Set when the shared state failed: local pacing, as without a store. */
  private local: TokenBucket | undefined;

  constructor(
    private readonly clock: PortalClock,
    private readonly shared: SharedLimiterState,
    private readonly portal: string,
    private readonly hooks: LeaseHooks,
    public drain: number,
    public burst: number,
    public reserve: number,
  ) {}

  /** The real ms a lease lives. */
  private leaseMs(): number {
    return this.clock.toRealMs(leasePortalSeconds(this.drain, this.burst));
  }

  current(): number {
    if (this.local) return this.local.current();
    const elapsed = ((performance.now() - this.lastLevelAt) / 1000) * this.clock.factor;
    return Math.max(0, this.lastLevel - elapsed * this.drain);
  }

  /** Whether the bucket fell back to local pacing after a database error. */
  get degraded(): boolean {
    return this.local !== undefined;
  }

  acquire(signal?: AbortSignal): Promise<void> {
    this.pending++;
    const run = this.tail.then(async () => {
      const started = Date.now();
      try {
        for (;;) {
          signal?.throwIfAborted();
          const now = performance.now();
          if (this.slots > 0 && now < this.slotsUntil) {
            this.slots--;
            break;
          }
          if (this.slots > 0) {
            this.expired += this.slots;
            this.target = Math.max(1, this.leaseGranted - this.slots);
            this.wasted = true;
            this.slots = 0;
          }
          if (this.local) {
            await this.local.acquire(signal);
            break;
          }
          // starved: come back when the row said the rest would be free, not at once for another sliver
          const early = this.nextTakeAt - performance.now();
          if (early > 0) {
            await sleep(early, signal);
            continue;
          }
          let grant: LeaseGrant;
          try {
            grant = await this.lease();
          } catch (err) {
            this.local = new TokenBucket(this.clock, this.drain, this.burst, this.reserve);
            this.local.onOverflow(); // unknown portal level: start full, as after a 503
            this.hooks.fallback(err);
            continue;
          }
          this.nextTakeAt = grant.retryMs > 0 ? performance.now() + grant.retryMs : 0;
          if (grant.granted > 0) {
            this.slots = grant.granted;
            this.leaseGranted = grant.granted;
            this.slotsUntil = performance.now() + this.leaseMs();
            continue;
          }
          await sleep(Math.max(1, grant.retryMs), signal);
          this.nextTakeAt = 0;
        }
      } finally {
        this.pending--;
        this.waitedMs += Date.now() - started;
      }
    });
    this.tail = run.catch(() => {});
    return run;
  }

  /** One database round trip: asks for the callers waiting now, or the adapted lease size when larger. */
  private async lease(): Promise<LeaseGrant> {
    if (this.overflowReport) await this.overflowReport;
    const cap = Math.max(1, Math.floor(this.drain * leasePortalSeconds(this.drain, this.burst)));
    // the previous lease was used up in time and the bucket had room to spare: the process can use a larger one. Near
    // a full bucket slots go to the callers waiting now only: spare ones would expire while others wait for them
    if (this.starved) this.target = 1;
    else if (!this.wasted && this.leaseGranted > 0) this.target = Math.min(cap, this.target * 2);
    this.wasted = false;
    this.leaseGranted = 0;
    const want = Math.min(cap, Math.max(this.pending, Math.round(this.target), 1));
    this.takes++;
    const grant = await this.shared.take(this.portal, {
      want,
      drain: this.drain,
      burst: this.burst,
      reserve: this.reserve,
      clockFactor: this.clock.factor,
      plan: this.hooks.plan(),
    });
    this.granted += grant.granted;
    this.starved = grant.granted < want || grant.level > this.burst - this.reserve - cap;
    this.lastLevel = grant.level;
    this.lastLevelAt = performance.now();
    this.hooks.learned(grant.learned);
    return grant;
  }

  onOverflow(): void {
    // the leased slots were counted before the portal saw them: drop them, the portal is full
    this.slots = 0;
    this.local?.onOverflow();
  }

  /** Tells every process about a 503 (the next lease of this process waits for it). Never rejects. */
  reportOverflow(backoffUntilMs: number): void {
    const report = this.shared
      .report(this.portal, {
        kind: 'query-limit',
        burst: this.burst,
        backoffUntilMs,
        plan: this.hooks.plan(),
      })
      .catch((err) => this.hooks.fallback(err))
      .finally(() => {
        if (this.overflowReport === report) this.overflowReport = undefined;
      });
    this.overflowReport = report;
  }

  /** Tells every process that `method` is parked until `until` (portal Unix s). Never rejects. */
  reportParked(method: string, until: number): void {
    this.shared
      .report(this.portal, { kind: 'operation-limit', method: method.toLowerCase(), until })
      .catch((err) => this.hooks.fallback(err));
  }

  setRates(drain: number, burst: number): void {
    this.drain = drain;
    this.burst = burst;
    this.local?.setRates(drain, burst);
  }
}
