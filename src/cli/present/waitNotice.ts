/**
 * Plain progress lines on stderr while the limiter holds requests back: during any wait longer than the notice
 * interval (10 s; `B24FLOW_WAIT_NOTICE_S`) a line at least every interval, e.g.
 * `b24flow: waiting for the operating budget of crm.item.list — 20 s so far, about 40 s left`. Plain lines, not a
 * spinner, so that logs of non-interactive runs (cron, CI) show why a run is quiet. The limiter reports each sleep
 * (src/bitrix/limiter, `LimiterConfig.onWait`); consecutive sleeps make one wait.
 */
import type { LimiterWait } from '../../bitrix/limiter/index.js';

const WHY: Record<LimiterWait['reason'], (m?: string) => string> = {
  parked: (m) => `${m ?? 'a method'} hit the operating time limit (429); waiting for its reset`,
  operating: (m) => `waiting for the operating budget of ${m ?? 'a method'}`,
  backoff: () => 'the portal answered 503 QUERY_LIMIT_EXCEEDED; backing off',
};

/**
 * The `onWait` callback for a command's limiter.
 * @param write where lines go (stderr)
 * @param intervalMs the notice interval in real ms
 */
export function waitNotices(
  write: (line: string) => void = (l) => process.stderr.write(l),
  intervalMs = 10_000,
): (w: LimiterWait) => void {
  let since: number | undefined;
  let until = 0;
  let last: LimiterWait | undefined;
  let printed = 0;
  let timer: NodeJS.Timeout | undefined;
  const say = (now: number) => {
    printed = now;
    const so = Math.round((now - (since ?? now)) / 1000);
    const left = Math.max(0, Math.ceil((until - now) / 1000));
    write(`b24flow: ${last ? WHY[last.reason](last.method) : 'waiting'} — ${so} s so far, about ${left} s left\n`);
  };
  const tick = () => {
    const now = Date.now();
    if (since === undefined || now > until + 1000) {
      // the wait is over (no sleep announced for a second past the last one's end)
      since = undefined;
      clearInterval(timer);
      timer = undefined;
      return;
    }
    if (now - since >= intervalMs / 2 && now - printed >= intervalMs * 0.9) say(now);
  };
  return (w) => {
    const now = Date.now();
    if (since === undefined || now > until + 1000) {
      since = now;
      printed = 0;
    }
    until = Math.max(until, now + w.ms);
    last = w;
    // one sleep announced as long as the interval: say so at once
    if (w.ms >= intervalMs && now - printed >= intervalMs * 0.9) say(now);
    if (!timer) {
      timer = setInterval(tick, Math.min(1000, intervalMs / 2));
      timer.unref();
    }
  };
}
