/**
 * The parts of a {@link ChatAgent} its plan flow and commands work with (src/agent/agent.ts builds it once).
 */
import type { ChatEngine } from './engine.js';
import type { InteractionLog } from './interactionLog.js';
import type { ChatLinks } from './links.js';
import type { StateStore } from './state.js';

/** The agent's engine, stores and plan policy. */
export interface AgentCore {
  readonly engine: ChatEngine;
  readonly store: StateStore;
  readonly log: InteractionLog;
  /** Chat user ↔ Bitrix24 user links and their codes. */
  readonly links: ChatLinks;
  /** Upper bound on a chat plan's validity, ms. */
  readonly planTtlMs: number;
  /** Unlinked users may not confirm writes. */
  readonly requireLink: boolean;
  /** Clock in ms since epoch for plan expiry. */
  readonly clock: () => number;
}
