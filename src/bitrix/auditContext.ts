/**
 * Who a call is made for, carried to the audit log without passing it through every call: an approved run's calls
 * run inside {@link withAuditTags} (the approval request, its approvers, the pipeline and run), and the client adds
 * the tags of the current async context to each audit line. AsyncLocalStorage keeps them across awaits and apart
 * between runs that interleave.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** Tags of an audit line (short strings: ids, names; never secrets or record data). */
export type AuditTags = Record<string, string>;

const store = new AsyncLocalStorage<AuditTags>();

/** Runs `fn` with `tags` on every audit line its calls write (nested tags merge, the inner ones win). */
export function withAuditTags<T>(tags: AuditTags, fn: () => Promise<T>): Promise<T> {
  return store.run({ ...(store.getStore() ?? {}), ...tags }, fn);
}

/** The tags of the current async context, if any. */
export function currentAuditTags(): AuditTags | undefined {
  return store.getStore();
}

/** The tags of the current async context as an audit record field (none: no field). */
export function auditTagsField(): { tags?: AuditTags } {
  const tags = store.getStore();
  return tags ? { tags } : {};
}
