/**
 * Client-side mirror of the portal's request bucket (settings/performance/limits.md): every HTTP request (a `batch`
 * counts once) adds 1 to a per-portal counter that drains by `drain` per second; when the counter exceeds `burst`
 * the next request gets 503 `QUERY_LIMIT_EXCEEDED`. We keep our own estimate of that counter and wait before a
 * request that would overflow it. Times are portal seconds (see {@link PortalClock}).
 */
import { type PortalClock, sleep } from './portalClock.js';

/** Bucket presets by plan: drain in requests/s, burst in requests. */
export const PLAN_PRESETS = {
  standard: { drain: 2, burst: 50 },
  enterprise: { drain: 5, burst: 250 },
} as const;

/** A named plan preset. */
export type PlanName = keyof typeof PLAN_PRESETS;

/** The bucket surface the portal limiter uses (the local {@link TokenBucket} or the shared `LeasedBucket` of ./shared.ts). */
export interface RequestBucket {
  drain: number;
  burst: number;
  reserve: number;
  /** Total real ms callers spent waiting for a slot. */
  waitedMs: number;
  /** Current estimated fill of the portal counter. */
  current(): number;
  /** Takes one request slot, waiting (FIFO). @throws the signal's reason when aborted */
  acquire(signal?: AbortSignal): Promise<void>;
  /** A 503 arrived: the portal's counter is full now. */
  onOverflow(): void;
  /** Switches presets. */
  setRates(drain: number, burst: number): void;
}

/** The bucket of one process (no store): its own estimate of the portal's counter. */
export class TokenBucket implements RequestBucket {
  private level = 0;
  private last: number;
  private tail: Promise<void> = Promise.resolve();
  /** Total real ms callers spent waiting for a token. */
  waitedMs = 0;

  constructor(
    private readonly clock: PortalClock,
    public drain: number,
    public burst: number,
    /** Tokens kept free as a safety margin (requests of other clients on the same portal, timing skew). */
    public reserve = 2,
  ) {
    this.last = clock.mono();
  }

  private refill(): number {
    const now = this.clock.mono();
    this.level = Math.max(0, this.level - (now - this.last) * this.drain);
    this.last = now;
    return this.level;
  }

  /** Current estimated fill of the portal counter. */
  current(): number {
    return this.refill();
  }

  /**
   * Takes one request slot, waiting (FIFO) until the counter has room.
   * @throws the signal's reason when aborted while waiting
   */
  acquire(signal?: AbortSignal): Promise<void> {
    const run = this.tail.then(async () => {
      const started = Date.now();
      for (;;) {
        signal?.throwIfAborted();
        const level = this.refill();
        const room = this.burst - this.reserve;
        if (level + 1 <= room) {
          this.level = level + 1;
          break;
        }
        await sleep(Math.max(1, this.clock.toRealMs((level + 1 - room) / this.drain)), signal);
      }
      this.waitedMs += Date.now() - started;
    });
    this.tail = run.catch(() => {});
    return run;
  }

  /** Called on a 503 `QUERY_LIMIT_EXCEEDED`: the portal's counter is full now. */
  onOverflow(): void {
    this.refill();
    this.level = Math.max(this.level, this.burst);
  }

  /** Switches presets (e.g. after learning the plan from a 503). */
  setRates(drain: number, burst: number): void {
    this.refill();
    this.drain = drain;
    this.burst = burst;
  }
}
