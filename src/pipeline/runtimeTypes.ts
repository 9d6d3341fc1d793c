/**
 * @deprecated Transitional alias for src/agent/runtime.ts (owned by another change), which still imports
 * `ClientLike` from here; import {@link PipelineClient} from src/pipeline/client.ts (or src/pipeline/index.ts)
 * instead, then delete this file.
 */
export type { PipelineClient as ClientLike } from './client.js';
