/**
 * The set of changes already processed (dedupe keys `<eventKey>#<pipeline>`, see `eventKey`), so that an event seen
 * online and again in the offline queue — or re-read after a crash before it was cleared — runs its pipelines once.
 * Implemented on the durable store by src/store/processed.ts (table processed_events; retention by `at_ms` is the
 * store's garbage collection).
 */

/** Where processed keys are kept. Both methods are committed/answered by the store before they resolve. */
export interface ProcessedKeys {
  /** True when the change was processed already. */
  has(key: string): Promise<boolean>;
  /**
   * Records a processed change, race-free across processes (insert … on conflict do nothing).
   * @returns true when this call recorded it, false when it was recorded already ("already processed")
   * @throws the store's error — then nothing is recorded, so a retry runs again
   */
  add(key: string): Promise<boolean>;
}

/**
 * The processed keys of one further portal of a multi-portal service: its keys carry `<member_id>|`, so the same change
 * on two portals is two events. The default portal's keys carry no prefix (a service that served one portal before
 * keeps its keys).
 * @param memberId the portal; undefined or the default portal's id → `keys` unchanged
 */
export function portalKeys(
  keys: ProcessedKeys,
  memberId: string | undefined,
  defaultPortal: string | undefined,
): ProcessedKeys {
  if (memberId === undefined || memberId === '' || memberId === defaultPortal) return keys;
  const prefix = `${memberId}|`;
  return { has: (k) => keys.has(prefix + k), add: (k) => keys.add(prefix + k) };
}
