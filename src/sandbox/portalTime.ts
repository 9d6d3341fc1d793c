/**
 * The sandbox clock: real time sped up by `clockFactor` and shifted by explicit advances, so limit windows
 * (leaky bucket drain, ten one-minute operating baskets, token lifetimes) can be exercised in seconds; and the
 * portal's date format (ISO 8601 with the portal's +03:00 offset) both ways. Sources: doc
 * api-reference/data-types.md (datetime), api-reference/common/system/server-time (apidocs.bitrix24.com).
 */
export class SandboxClock {
  private baseReal = Date.now();
  private baseVirtual = Date.now();
  private factor: number;

  /** @param factor speed-up (1 = real time; 60 = one real second is one sandbox minute) */
  constructor(factor = 1) {
    this.factor = factor > 0 ? factor : 1;
  }

  /** Current sandbox time in ms since the Unix epoch. */
  now(): number {
    return this.baseVirtual + (Date.now() - this.baseReal) * this.factor;
  }

  /** Current sandbox time in seconds (float). */
  nowSec(): number {
    return this.now() / 1000;
  }

  /** Changes the speed-up from now on without jumping the clock. */
  setFactor(factor: number): void {
    const v = this.now();
    this.baseReal = Date.now();
    this.baseVirtual = v;
    this.factor = factor > 0 ? factor : 1;
  }

  /** The current speed-up (1 = real time). */
  get clockFactor(): number {
    return this.factor;
  }

  /** Moves the sandbox clock forward by `seconds`. */
  advance(seconds: number): void {
    this.baseVirtual += seconds * 1000;
  }
}

const pad = (n: number) => (n < 10 ? '0' + n : String(n));

/** Portal time zone offset used in every date the sandbox prints (Moscow, +03:00, as most demo portals). */
export const PORTAL_OFFSET_MIN = 180;

// one-entry cache: lists format many dates of the same second
let lastSec = Number.NaN;
let lastIso = '';

/** Formats ms since epoch as Bitrix24 ISO-8601 with the portal offset: `2024-09-02T17:48:35+03:00`. */
export function isoDate(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec === lastSec) return lastIso;
  lastIso = formatIso(sec * 1000);
  lastSec = sec;
  return lastIso;
}

function formatIso(ms: number): string {
  const d = new Date(ms + PORTAL_OFFSET_MIN * 60_000);
  return (
    d.getUTCFullYear() +
    '-' +
    pad(d.getUTCMonth() + 1) +
    '-' +
    pad(d.getUTCDate()) +
    'T' +
    pad(d.getUTCHours()) +
    ':' +
    pad(d.getUTCMinutes()) +
    ':' +
    pad(d.getUTCSeconds()) +
    '+03:00'
  );
}

/**
 * Parses a date the way portal filters and fields accept them: ISO-8601 (with or without offset; without
 * offset the portal zone is assumed), `YYYY-MM-DD`, `DD.MM.YYYY[ HH:MM[:SS]]`, or a number of seconds/ms.
 * @returns ms since epoch, or NaN when unparseable
 */
export function parseDate(v: unknown): number {
  if (typeof v === 'number') return v > 1e11 ? v : v * 1000;
  if (typeof v !== 'string' || v === '') return Number.NaN;
  let m = /^(\d{2})\.(\d{2})\.(\d{4})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(v);
  if (m) {
    return Date.UTC(+m[3]!, +m[2]! - 1, +m[1]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)) - PORTAL_OFFSET_MIN * 60_000;
  }
  m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?$/.exec(v);
  if (m) {
    return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0)) - PORTAL_OFFSET_MIN * 60_000;
  }
  return Date.parse(v);
}
