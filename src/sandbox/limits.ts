/**
 * The portal's two limiters (settings/performance/limits.md, rest-protocol.md §2):
 * - a leaky bucket per portal and source IP: every HTTP request adds 1, the level drains at `rate`/s,
 *   a request that finds the level at `burst` gets 503 QUERY_LIMIT_EXCEEDED;
 * - an operating budget per method and per app/webhook: execution time summed in ten one-minute baskets;
 *   once the sum exceeds the limit the next call gets 429 OPERATION_TIME_LIMIT until old baskets drop out.
 * Times are sandbox-clock seconds, so `clockFactor` speeds both up.
 */

/** Plan presets: drain rate (requests/s) and burst (requests). */
export const PLANS = {
  standard: { rate: 2, burst: 50 },
  enterprise: { rate: 5, burst: 250 },
  unlimited: { rate: Infinity, burst: Infinity },
} as const;

/** Plan name. */
export type Plan = keyof typeof PLANS;

/** Leaky bucket keyed by source (portal is implicit: one sandbox = one portal). */
export class LeakyBucket {
  private levels = new Map<string, { level: number; at: number }>();
  constructor(public plan: Plan) {}

  /** Adds one request at time `nowSec`; false when it must be rejected (level stays unchanged then). */
  take(key: string, nowSec: number): boolean {
    const { rate, burst } = PLANS[this.plan];
    if (!Number.isFinite(burst)) return true;
    const s = this.levels.get(key) ?? { level: 0, at: nowSec };
    s.level = Math.max(0, s.level - (nowSec - s.at) * rate);
    s.at = nowSec;
    this.levels.set(key, s);
    if (s.level + 1 > burst) return false;
    s.level += 1;
    return true;
  }

  /** Current level (for diagnostics). */
  level(key: string, nowSec: number): number {
    const s = this.levels.get(key);
    if (!s) return 0;
    return Math.max(0, s.level - (nowSec - s.at) * PLANS[this.plan].rate);
  }

  /** Empties every bucket (admin `limits {reset: true}`). */
  reset(): void {
    this.levels.clear();
  }
}

/** Operating budget over ten one-minute baskets. */
export class OperatingBudget {
  private baskets = new Map<string, { minute: number; used: number }[]>();
  /** @param limit seconds per 10 minutes; 0 disables the 429 (operating is still reported) */
  constructor(public limit: number) {}

  private live(key: string, nowSec: number) {
    const minute = Math.floor(nowSec / 60);
    let list = this.baskets.get(key);
    if (!list) {
      list = [];
      this.baskets.set(key, list);
    }
    let drop = 0;
    while (drop < list.length && list[drop]!.minute <= minute - 10) drop++;
    if (drop) list.splice(0, drop);
    return { list, minute };
  }

  /** Seconds used in the window and when the oldest basket drops out (unix s). */
  state(key: string, nowSec: number): { operating: number; resetAt: number } {
    const { list } = this.live(key, nowSec);
    const operating = list.reduce((s, b) => s + b.used, 0);
    const oldest = list[0];
    return { operating, resetAt: Math.floor(oldest ? (oldest.minute + 10) * 60 : nowSec + 600) };
  }

  /** True when the method is blocked now. */
  blocked(key: string, nowSec: number): boolean {
    if (!this.limit) return false;
    return this.state(key, nowSec).operating > this.limit;
  }

  /** Charges `seconds` to the current basket. */
  charge(key: string, nowSec: number, seconds: number): void {
    const { list, minute } = this.live(key, nowSec);
    const last = list[list.length - 1];
    if (last && last.minute === minute) last.used += seconds;
    else list.push({ minute, used: seconds });
  }

  /** Drops every basket (admin `limits {reset: true}`). */
  reset(): void {
    this.baskets.clear();
  }
}

/**
 * Simulated execution time of a call in seconds: a base cost, plus per returned row, plus a COUNT over the
 * matched set when the list was counted (`start >= 0`). Keyset pages (`start=-1`) are therefore ~10× cheaper
 * than counted pages over a large table, as on a real portal.
 */
export function simulatedCost(rows: number, counted: number, write: boolean): number {
  return 0.01 + rows * 0.0005 + (counted > 0 ? 0.05 + counted * 0.000004 : 0) + (write ? 0.04 : 0);
}
