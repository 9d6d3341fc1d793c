/**
 * What pipeline runs take from the configuration: the store's journal, idempotency store and plan store
 * ({@link storeRunSettings}), the values of a pipeline's `env:` allow-list, the default time zone, the summary
 * language and the plan lifetime. Loaded only by modules that load src/pipeline anyway.
 */
import {
  ApprovalService,
  type ApprovalStore,
  describeWrites,
  type IdempotencyStore,
  type Journal,
  type PipelineClient,
  PlanNames,
  type PlanStore,
  PortalDirectory,
  userLanguage,
} from '../pipeline/index.js';
import type { Settings } from './compose.js';
import { openDataStore } from './dataStore.js';

/** Run options from the settings (pass them to `runPipeline`, `planPipeline`, `applyPlan`). */
export interface PipelineRunSettings {
  /** `B24FLOW_DATA_DIR` or `./data` (the store lives there unless `B24FLOW_DATABASE_URL` is set). */
  dataDir: string;
  /** The store's run journal (set by {@link storeRunSettings}). */
  journal?: Journal;
  /** The store's idempotency keys (set by {@link storeRunSettings}). */
  idempotency?: IdempotencyStore;
  /** The store's plans (set by {@link storeRunSettings}): `planPipeline` saves there, `applyPlan` reads there. */
  store?: PlanStore;
  /** The store's approval requests (set by {@link storeRunSettings}). */
  approvals?: ApprovalStore;
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

/** {@link PipelineRunSettings} with the store's journal, idempotency store and plan store. */
export type StoreRunSettings = PipelineRunSettings &
  Required<Pick<PipelineRunSettings, 'journal' | 'idempotency' | 'store' | 'approvals'>>;

/**
 * The run options of the settings with the process's store (src/cli/dataStore.ts): every CLI path that runs, plans,
 * applies or resumes a pipeline passes these, so that runs, plans and keys are shared by every process on the store.
 * @throws Error naming the database (password redacted) when the store cannot be opened
 */
export async function storeRunSettings(s: Settings): Promise<StoreRunSettings> {
  const store = await openDataStore(s);
  const [{ SqlJournal }, { SqlIdempotencyStore }, { SqlPlanStore }, { SqlApprovalStore }] = await Promise.all([
    import('../store/journal.js'),
    import('../store/idempotency.js'),
    import('../store/plans.js'),
    import('../store/approvals.js'),
  ]);
  return {
    ...pipelineRunSettings(s),
    journal: new SqlJournal(store),
    idempotency: new SqlIdempotencyStore(store),
    store: new SqlPlanStore(store),
    approvals: new SqlApprovalStore(store),
  };
}

/**
 * The approval service of one portal's client over the store (src/pipeline/approvals): its runs use the settings'
 * journal, idempotency store, time zone, language and env allow-list.
 */
export function approvalService(r: StoreRunSettings, client: PipelineClient): ApprovalService {
  const names = new PlanNames(client);
  return new ApprovalService({
    describe: (writes, lang) => describeWrites(writes, names, lang),
    approvals: r.approvals,
    plans: r.store,
    directory: new PortalDirectory(client),
    run: {
      client,
      journal: r.journal,
      idempotency: r.idempotency,
      env: r.env,
      timezone: r.timezone,
      lang: r.lang,
    },
  });
}
