/**
 * The chat agent's state per user in the store (`agent_state`: one row per user id, the state as JSON), shared by
 * every process on the store (`bot`, `chat`, `serve`'s chat API). The agent serialises messages per user inside one
 * process (src/agent/queue.ts); across processes the last complete write wins, as with the old per-user files.
 */
import { type AgentState, nowIso, reviveState, type StateStore } from '../agent/state.js';
import type { Store } from './db.js';

/** Agent states on the database (see module doc). */
export class StoreStateStore implements StateStore {
  constructor(private readonly store: Store) {}

  async load(userId: string): Promise<AgentState> {
    const row = await this.store.db
      .selectFrom('agent_state')
      .select('state_json')
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return reviveState(userId, row?.state_json);
  }

  async save(state: AgentState): Promise<void> {
    state.updatedAt = nowIso();
    const state_json = JSON.stringify(state);
    const updated_ms = Date.now();
    await this.store.db
      .insertInto('agent_state')
      .values({ user_id: state.userId, state_json, updated_ms })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ state_json, updated_ms }))
      .execute();
  }
}
