/**
 * The dead-letter queue as the chat side sees it (`/dlq`, `/dlq drop <id>`, `/dlq replay <id>`), over the process's
 * trigger stores: drop as `b24flow dlq drop` does, replay through the same path as `b24flow dlq replay`
 * ({@link replayLetters}: the failed pipelines run again on the letter's portal, the letter leaves the queue when
 * they succeed).
 */
import type { DeadLetterSource } from '../agent/runtime.js';
import type { TriggerStores } from '../triggers/service.js';

/**
 * @param stores the trigger stores, opened on first use (a chat that never asks does not need the database)
 * @param pipelinesDir where a replay loads the pipelines from
 */
export function chatDeadLetters(stores: () => Promise<TriggerStores>, pipelinesDir: string): DeadLetterSource {
  return {
    list: async () => (await stores()).deadLetters.list(),
    remove: async (id) => {
      const q = (await stores()).deadLetters;
      const d = (await q.get(id)) ?? (await q.getMalformed(id));
      if (!d) return undefined;
      await q.drop(d.id);
      return d.id;
    },
    replay: async (id) => {
      const s = await stores();
      const d = await s.deadLetters.get(id);
      if (!d) return undefined;
      const { replayLetters } = await import('./present/triggers.js');
      const [r] = await replayLetters(s, [d], pipelinesDir);
      if (!r) return undefined;
      return { id: r.id, event: r.event, ok: r.ok, ...(r.error !== undefined ? { error: r.error } : {}) };
    },
  };
}
