/**
 * From a plan to approval requests: the pipeline's `approvers:` spec, the grouping of writes (per record owner with
 * `record_owner`), who may approve each group, and the content hash a request is bound to.
 */
import type { Pipeline } from '../../generated/pipeline.js';
import { InvalidInputError } from '../../lib/failures.js';
import { hashOf } from '../load.js';
import { type PlannedWrite, writeId } from '../run/types.js';
import type { PortalDirectory } from './directory.js';

/** The pipeline's `approvers:` block. */
export type ApproversSpec = NonNullable<Pipeline['approvers']>;

/** Default lifetime of a request: 24 h in ms. */
export const DEFAULT_EXPIRES_MS = 24 * 3600_000;

/**
 * `expires_in` (`30m`, `24h`, `7d`, `90s`) in ms; absent → 24 h.
 * @throws InvalidInputError for another form
 */
export function expiresInMs(v: string | undefined): number {
  if (v === undefined) return DEFAULT_EXPIRES_MS;
  const m = /^([1-9][0-9]*)(s|m|h|d)$/.exec(v);
  if (!m) throw new InvalidInputError(`approvers.expires_in: "${v}" is not a duration like 30m, 24h or 7d`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** One group of writes approved together: its owner (record_owner) and its writes. */
export interface WriteGroup {
  owner?: string;
  writes: PlannedWrite[];
}

/**
 * Groups the writes of a plan: with `record_owner`, one group per owner of the touched records (writes whose owner
 * is unknown form a group of their own, approved by the listed users and department heads); else one group.
 */
export function groupWrites(writes: readonly PlannedWrite[], spec: ApproversSpec): WriteGroup[] {
  if (!spec.record_owner) return writes.length ? [{ writes: [...writes] }] : [];
  const by = new Map<string, WriteGroup>();
  for (const w of writes) {
    const k = w.owner ?? '';
    const g = by.get(k) ?? (w.owner ? { owner: w.owner, writes: [] } : { writes: [] });
    g.writes.push(w);
    by.set(k, g);
  }
  return [...by.values()];
}

/** The writes of `writes` that belong to the group of `owner` (undefined: the writes without a known owner). */
export function writesOfGroup(
  writes: readonly PlannedWrite[],
  spec: ApproversSpec,
  owner: string | undefined,
): PlannedWrite[] {
  return spec.record_owner ? writes.filter((w) => (w.owner ?? undefined) === owner) : [...writes];
}

/**
 * The content hash of a group (what its approvers see and decide on): each write's id, method, params, the values
 * before the change and the owner, in write-id order.
 */
export function groupHash(writes: readonly PlannedWrite[]): string {
  const rows = writes
    .map((w) => ({
      id: writeId(w),
      method: w.method,
      params: w.params,
      before: (w.diff ?? []).map((d) => [d.field, d.before]),
      owner: w.owner ?? null,
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return hashOf(rows);
}

/**
 * Who may approve a group: its owner (record_owner), the listed users and the heads of the listed departments,
 * without the person who started the run.
 * @throws InvalidInputError when fewer than `min` people remain (names the group)
 */
export async function approversOf(
  group: WriteGroup,
  spec: ApproversSpec,
  directory: PortalDirectory,
  startedBy: string | undefined,
): Promise<string[]> {
  const listed = [
    ...(spec.users ?? []).map(String),
    ...(await directory.headsOf((spec.departments ?? []).map(String))),
  ];
  const all = [...new Set([...(group.owner ? [group.owner] : []), ...listed])].filter((u) => u !== startedBy);
  const min = spec.min ?? 1;
  if (all.length < min) {
    const what = group.owner ? `the records of user ${group.owner}` : 'writes without a known record owner';
    throw new InvalidInputError(
      `nobody can approve ${what}: ${min} distinct approver(s) needed, ${all.length} available (approvers: lists users, departments and record_owner; the person who started the run never approves it)`,
    );
  }
  return all;
}
