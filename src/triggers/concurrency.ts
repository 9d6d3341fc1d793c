/**
 * Per-pipeline concurrency for trigger runs (`concurrency: {key, mode}` of a pipeline).
 *
 * A lane is `pipeline name + evaluated key`. Modes: `queue` — wait for the running run to end; `fail` — refuse the
 * new run ({@link ConcurrencyRefused}); `cancel` — abort the running run (its AbortSignal) and start the new one once
 * it has stopped.
 */

/** Thrown when a run is refused because another run holds its lane in `fail` mode. */
export class ConcurrencyRefused extends Error {
  constructor(readonly lane: string) {
    super(`another run of ${lane} is in progress (concurrency mode fail)`);
    this.name = 'ConcurrencyRefused';
  }
}

interface LaneState {
  tail: Promise<void>;
  running: number;
  abort?: AbortController;
}

/** Lanes of running trigger runs. */
export class RunLanes {
  private readonly lanes = new Map<string, LaneState>();

  /** True while a run holds the lane. */
  busy(lane: string): boolean {
    return (this.lanes.get(lane)?.running ?? 0) > 0;
  }

  /**
   * Runs `fn` in `lane` according to `mode`; `fn` gets an AbortSignal (aborted by a later `cancel`-mode run or by
   * `outer`).
   * @throws ConcurrencyRefused in `fail` mode when the lane is busy; whatever `fn` throws
   */
  async run<T>(
    lane: string,
    mode: 'queue' | 'cancel' | 'fail',
    fn: (signal: AbortSignal) => Promise<T>,
    outer?: AbortSignal,
  ): Promise<T> {
    let st = this.lanes.get(lane);
    if (!st) {
      st = { tail: Promise.resolve(), running: 0 };
      this.lanes.set(lane, st);
    }
    if (mode === 'fail' && (st.running > 0 || this.queued(lane))) throw new ConcurrencyRefused(lane);
    if (mode === 'cancel') st.abort?.abort(new Error(`cancelled by a newer run of ${lane}`));
    const prev = st.tail;
    let release!: () => void;
    const mine = new Promise<void>((r) => {
      release = r;
    });
    st.tail = prev.then(() => mine);
    this.pending.set(lane, (this.pending.get(lane) ?? 0) + 1);
    await prev;
    this.pending.set(lane, (this.pending.get(lane) ?? 1) - 1);
    const ac = new AbortController();
    const onOuter = () => ac.abort(outer?.reason);
    outer?.addEventListener('abort', onOuter, { once: true });
    st.abort = ac;
    st.running++;
    try {
      return await fn(ac.signal);
    } finally {
      st.running--;
      if (st.abort === ac) delete st.abort;
      outer?.removeEventListener('abort', onOuter);
      release();
    }
  }

  private readonly pending = new Map<string, number>();
  private queued(lane: string): boolean {
    return (this.pending.get(lane) ?? 0) > 0;
  }
}
