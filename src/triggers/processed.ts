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
  /** The key as this store records it (default: as given); see {@link portalKeys}. */
  keyFor?(key: string): string;
  /** True when any of the keys was processed (one lookup; optional: else one {@link has} per key). */
  hasAny?(keys: string[]): Promise<boolean>;
}

/**
 * The processed keys of one portal: recorded as `<portal>|<key>` (the portal's member_id, or the webhook's host), so
 * the same change on two portals is two events and a portal keeps its keys whichever way `serve` runs it (alone,
 * pinned, or as one of several portals, default or not). A key recorded without the portal (before keys carried it)
 * still counts as processed.
 * @param portal the portal's id; undefined or empty → `keys` unchanged
 */
export function portalKeys(keys: ProcessedKeys, portal: string | undefined): ProcessedKeys {
  if (!portal) return keys;
  const prefix = `${portal}|`;
  return {
    has: async (k) => (keys.hasAny ? keys.hasAny([prefix + k, k]) : (await keys.has(prefix + k)) || keys.has(k)),
    add: (k) => keys.add(prefix + k),
    keyFor: (k) => prefix + k,
  };
}
