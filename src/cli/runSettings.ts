/**
 * What pipeline runs started by the long-running sides (the trigger service, `dlq replay`, the chat engine) take
 * from the configuration: data directory (journal, plans, idempotency), the values of a pipeline's `env:`
 * allow-list, the default time zone, the summary language and the plan lifetime. Loaded only by modules that load
 * src/pipeline anyway.
 */
import { userLanguage } from '../pipeline/index.js';
import type { Settings } from './compose.js';

/** Run options from the settings (pass them to `runPipeline`, `planPipeline`, `applyPlan`). */
export interface PipelineRunSettings {
  /** `B24FLOW_DATA_DIR` or `./data`. */
  dataDir: string;
  /** The environment, for the pipeline's `env:` allow-list. */
  env: NodeJS.ProcessEnv;
  /** `B24FLOW_TZ` or UTC. */
  timezone: string;
  /** `B24FLOW_LANG`, else the locale (`LC_ALL`, `LANG`). */
  lang: 'en' | 'ru';
  /** `B24FLOW_PLAN_TTL_MS` when set to a positive number. */
  planTtlMs?: number;
}

/** Builds the run options of {@link PipelineRunSettings} from the process settings. */
export function pipelineRunSettings(s: Settings): PipelineRunSettings {
  const ttl = Number(s.env.B24FLOW_PLAN_TTL_MS);
  return {
    dataDir: s.dataDir,
    env: s.env,
    timezone: s.timezone,
    lang: userLanguage(s.env),
    ...(Number.isFinite(ttl) && ttl > 0 ? { planTtlMs: ttl } : {}),
  };
}
