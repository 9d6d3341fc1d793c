/**
 * Portal clock: maps local real time to the portal's clock (Unix seconds).
 *
 * The portal reports its own time in every answer (`time.finish`, `operating_reset_at`); a sandbox may run its clock
 * faster than real time (`clockFactor`). Limits are expressed in portal seconds, so the limiter converts every wait
 * from portal seconds to real milliseconds through this clock.
 */
export class PortalClock {
  private anchorPortal: number;
  private anchorReal: number;
  private learned = false;

  /** @param factor portal seconds per real second (1 = real time, 20 = sandbox clock 20× faster) */
  constructor(public factor = 1) {
    this.anchorReal = Date.now();
    this.anchorPortal = this.anchorReal / 1000;
  }

  /** Current portal time, Unix seconds (float). */
  now(): number {
    return this.anchorPortal + ((Date.now() - this.anchorReal) / 1000) * this.factor;
  }

  /**
   * Learns the portal's clock from an answer's `time.finish` (Unix s). The estimate only moves forward, so that
   * a slow answer does not make the clock jump back.
   */
  observe(portalFinish: number | undefined): void {
    if (typeof portalFinish !== 'number' || !Number.isFinite(portalFinish)) return;
    const predicted = this.now();
    if (!this.learned || portalFinish > predicted || predicted - portalFinish > 5 * this.factor) {
      this.anchorPortal = portalFinish;
      this.anchorReal = Date.now();
      this.learned = true;
    }
  }

  /**
   * Monotonic portal-speed seconds (arbitrary origin): real elapsed time × factor, never jumping when the clock
   * learns the portal's absolute time. Use it for rates (bucket drain), never for absolute portal timestamps.
   */
  mono(): number {
    return (performance.now() / 1000) * this.factor;
  }

  /**
   * Safety slack (portal seconds) added to absolute portal deadlines such as `operating_reset_at`: network latency
   * and clock learning are only known to within a few real milliseconds, which a sped-up clock multiplies.
   */
  slack(): number {
    return Math.max(1, 0.025 * this.factor);
  }

  /** Converts a duration in portal seconds to real milliseconds. */
  toRealMs(portalSeconds: number): number {
    return Math.max(0, (portalSeconds * 1000) / this.factor);
  }
}

/** Sleeps `ms` real milliseconds; rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason ?? new Error('aborted'));
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
