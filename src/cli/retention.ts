/**
 * Retention settings from the environment: `B24FLOW_RETENTION_DAYS` (finished runs, default 30) and
 * `B24FLOW_KEYS_RETENTION_DAYS` (idempotency keys, processed event keys and claimed cron slots, default 30),
 * `B24FLOW_LOG_RETENTION_DAYS` (the schedule log, default 7). Used by `b24flow gc` and by
 * `serve`'s daily collection (src/store/retention.ts does the deleting).
 */

/** Default days runs and keys are kept. */
export const DEFAULT_RETENTION_DAYS = 30;

/** Default days the schedule log is kept (`B24FLOW_LOG_RETENTION_DAYS`). */
export const DEFAULT_LOG_RETENTION_DAYS = 7;

/** Days to keep runs and keys (see module doc). @throws Error naming the variable when it is not a number ≥ 0 */
export function retentionOf(env: NodeJS.ProcessEnv): { runsDays: number; keysDays: number; logDays: number } {
  const days = (name: string, dflt = DEFAULT_RETENTION_DAYS): number => {
    const v = env[name]?.trim();
    if (!v) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a number of days (got "${v.slice(0, 20)}")`);
    return n;
  };
  return {
    runsDays: days('B24FLOW_RETENTION_DAYS'),
    keysDays: days('B24FLOW_KEYS_RETENTION_DAYS'),
    logDays: days('B24FLOW_LOG_RETENTION_DAYS', DEFAULT_LOG_RETENTION_DAYS),
  };
}
