/**
 * The failed-authentication lockout of the HTTP API, keyed so that one client's mistakes (or an attacker's guesses)
 * never lock out anybody holding a valid key — behind a reverse proxy every client shares one socket address.
 *
 * - Per (client address, presented key): `maxFailures` failures within `windowMs` lock that pair for `windowMs`.
 *   A misconfigured client retrying a stale key is stopped; a different key from the same address is not.
 * - Per client address: `maxAddressFailures` failures with any wrong keys within `windowMs` lock every wrong key
 *   from that address for `windowMs`, so guessing keys one after the other is limited too.
 * - A valid key is decided before the lockout is consulted and is never refused by it ({@link AuthLockout} is only
 *   asked about keys that did not match).
 *
 * Presented keys are stored only as a keyed hash (HMAC-SHA-256 with a random per-process key, truncated to 128
 * bits), never as text. Both tables hold at most `maxEntries` entries; when full, expired entries are dropped and
 * then the least recently failed ones, so an attacker sending ever new keys or addresses cannot grow memory.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** Options of {@link AuthLockout}. */
export interface LockoutOptions {
  /** Failures per (client address, presented key) within `windowMs` before that pair is locked (default 5). */
  maxFailures?: number;
  /** Failures per client address, any wrong keys, within `windowMs` before all its wrong keys are locked (default 50). */
  maxAddressFailures?: number;
  /** Window for counting failures and the lockout duration, ms (default 15 min = 900 000). */
  windowMs?: number;
  /** Largest number of entries in each table (default 10 000). */
  maxEntries?: number;
  /** Clock, ms since the epoch (tests). */
  now?: () => number;
}

/** Failure times (ms, oldest first, at most the threshold) and the end of the lockout (ms, 0 = none). */
interface Entry {
  times: number[];
  blockedUntil: number;
}

/** What {@link AuthLockout.fail} decided: whether this failure started a lockout, and of what. */
export type LockoutStart = 'none' | 'key' | 'address';

/** See the module doc. One instance per set of routes; not shared between processes. */
export class AuthLockout {
  readonly maxFailures: number;
  readonly maxAddressFailures: number;
  readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly hmacKey = randomBytes(32);
  private readonly pairs = new Map<string, Entry>();
  private readonly addresses = new Map<string, Entry>();

  constructor(o: LockoutOptions = {}) {
    this.maxFailures = o.maxFailures ?? 5;
    this.maxAddressFailures = o.maxAddressFailures ?? 50;
    this.windowMs = o.windowMs ?? 15 * 60_000;
    this.maxEntries = Math.max(1, o.maxEntries ?? 10_000);
    this.now = o.now ?? Date.now;
  }

  /** Entries currently held, both tables together (tests, metrics). */
  get size(): number {
    return this.pairs.size + this.addresses.size;
  }

  /** Seconds until a wrong `key` from `address` may be tried again, or 0 when it is not locked. */
  retryAfter(address: string, key: string): number {
    const t = this.now();
    const until = Math.max(
      this.pairs.get(this.pairId(address, key))?.blockedUntil ?? 0,
      this.addresses.get(address)?.blockedUntil ?? 0,
    );
    return until > t ? Math.ceil((until - t) / 1000) : 0;
  }

  /** Counts one failed authentication of `key` from `address`; says which lockout, if any, it started. */
  fail(address: string, key: string): LockoutStart {
    const t = this.now();
    const pair = this.count(this.pairs, this.pairId(address, key), this.maxFailures, t);
    const addr = this.count(this.addresses, address, this.maxAddressFailures, t);
    return addr ? 'address' : pair ? 'key' : 'none';
  }

  /** Hash of the pair: the key never stays in memory as text, and its hash is useless outside this process. */
  private pairId(address: string, key: string): string {
    const mac = createHmac('sha256', this.hmacKey).update(key).digest('base64url').slice(0, 22);
    return `${address} ${mac}`;
  }

  /** Adds a failure at `t`; returns true when it reached `limit` and locked the entry. */
  private count(table: Map<string, Entry>, id: string, limit: number, t: number): boolean {
    const entry = table.get(id) ?? { times: [], blockedUntil: 0 };
    // Re-inserting keeps the Map's order "least recently failed first" for eviction.
    table.delete(id);
    entry.times = entry.times.filter((x) => t - x < this.windowMs);
    entry.times.push(t);
    let locked = false;
    if (entry.times.length >= limit) {
      entry.blockedUntil = t + this.windowMs;
      entry.times = [];
      locked = true;
    }
    this.makeRoom(table, t);
    table.set(id, entry);
    return locked;
  }

  private makeRoom(table: Map<string, Entry>, t: number): void {
    if (table.size < this.maxEntries) return;
    for (const [k, v] of table) {
      if (v.blockedUntil <= t && v.times.every((x) => t - x >= this.windowMs)) table.delete(k);
    }
    // Still full of live entries: drop the least recently failed tenth, so the scan above is not paid per request.
    const target = Math.floor(this.maxEntries * 0.9);
    for (const k of table.keys()) {
      if (table.size <= target) break;
      table.delete(k);
    }
  }
}
