/**
 * The event side's durable state on one store (what `startTriggerService`, `b24flow dlq` and the chat's `/dlq` take):
 * dead-letter queue, intake of accepted events, processed-event keys and the offline worker's state.
 */
import type { TriggerStores } from '../triggers/service.js';
import type { Store } from './db.js';
import { StoreDeadLetters } from './dlq.js';
import { StoreEvents, StoreOfflineState } from './events.js';
import { StoreProcessedKeys } from './processed.js';

/**
 * The {@link TriggerStores} of a store.
 * @param o.offlineName the offline worker's state row (default `offline`)
 */
export function triggerStores(store: Store, o: { offlineName?: string } = {}): TriggerStores {
  return {
    deadLetters: new StoreDeadLetters(store),
    events: new StoreEvents(store),
    processed: new StoreProcessedKeys(store),
    offline: new StoreOfflineState(store, o.offlineName),
  };
}
