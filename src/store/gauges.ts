/**
 * Counts the store answers for `serve`'s scrape-time gauges (src/triggers/metrics.ts).
 */
import type { Store } from './db.js';

/**
 * Approval requests waiting for a decision (`approvals.state = 'pending'`, src/store/approvals.ts), for the
 * `b24flow_approvals_pending` gauge.
 */
export async function pendingApprovals(store: Store): Promise<number> {
  const row = await store.db
    .selectFrom('approvals')
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where('state', '=', 'pending')
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}
