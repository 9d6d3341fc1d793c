/** `b24flow migrate`: importers of a data directory's files into the store (the list is in ./importers.ts). */

export { importAgentState } from './agentState.js';
export { importDeadLetters } from './dlq.js';
export { importEvents } from './events.js';
export { importIdempotency } from './idempotency.js';
export { IMPORTERS, type ImportContext, type Importer, type ImportResult, importDataDir } from './importers.js';
export { importPlans } from './plans.js';
export { importRuns, readRunDir } from './runs.js';
export { importTokens } from './tokens.js';
