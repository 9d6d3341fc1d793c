/**
 * Stored plans: `b24flow plan` saves the plan (TTL 30 min by default), `b24flow apply <plan-id>` applies it once.
 * Apply re-plans with the same pipeline, inputs and instant; when the resolved writes or the state read differ
 * (the id is a hash of both) the data drifted and the plan is refused.
 *
 * Files: `$B24FLOW_DATA_DIR/plans/<id>.json` (atomic), single use claimed by creating `<id>.used` exclusively.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../lib/atomic.js';
import { InvalidInputError, RuntimeFailure } from '../lib/failures.js';
import { dataDir, type Journal } from './journal.js';
import { loadPipelineObject } from './load.js';
import { type Plan, type PlanStoreLike, planPipeline, type RunOptions, type RunResult, runPipeline } from './run.js';

/** A stored plan with what is needed to re-plan it. */
export interface StoredPlan {
  plan: Plan;
  pipeline: unknown;
  file?: string;
  path?: string;
}

/** Refusals of `apply`; `reason` is machine-readable (the bot maps it to a message). */
export class PlanRefused extends InvalidInputError {
  constructor(
    readonly reason: 'unknown' | 'expired' | 'used' | 'drifted' | 'unconfirmed' | 'portal',
    message: string,
  ) {
    super(message);
    this.name = `Plan${reason[0]!.toUpperCase()}${reason.slice(1)}Error`;
  }
}

/** Storage of plans for apply. */
export interface PlanStore extends PlanStoreLike {
  get(id: string): Promise<StoredPlan | undefined>;
  /** Marks the plan used; false when it was already used (single use, race-free). */
  claim(id: string): Promise<boolean>;
  isUsed(id: string): Promise<boolean>;
}

const ID = /^p[0-9a-f]{8,64}$/;

/** File plan store under `<dir>` (default `$B24FLOW_DATA_DIR/plans`). */
export class FilePlanStore implements PlanStore {
  constructor(readonly dir = join(dataDir(), 'plans')) {}
  async save(plan: Plan, extra: { pipeline: unknown; file?: string; path?: string }): Promise<void> {
    const stored: StoredPlan = { plan, ...extra };
    await writeFileAtomic(join(this.dir, `${plan.id}.json`), JSON.stringify(stored), 0o600);
  }
  async get(id: string): Promise<StoredPlan | undefined> {
    if (!ID.test(id)) return undefined;
    try {
      return JSON.parse(await readFile(join(this.dir, `${id}.json`), 'utf8')) as StoredPlan;
    } catch {
      return undefined;
    }
  }
  async claim(id: string): Promise<boolean> {
    try {
      const fh = await open(join(this.dir, `${id}.used`), 'wx');
      await fh.writeFile(new Date().toISOString());
      await fh.close();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  }
  async isUsed(id: string): Promise<boolean> {
    try {
      await readFile(join(this.dir, `${id}.used`));
      return true;
    } catch {
      return false;
    }
  }
}

/** The default store (file store in the data dir). */
export async function defaultPlanStore(): Promise<PlanStore> {
  return new FilePlanStore();
}

/** Options of {@link applyPlan}. */
export interface ApplyOptions extends Omit<RunOptions, 'mode' | 'inputs' | 'now' | 'resume' | 'planId'> {
  store?: PlanStore;
  journal?: Journal | false;
}

/**
 * Applies a stored plan once: checks TTL, single use and portal, re-reads and refuses on drift, then runs the
 * pipeline in full mode with the given confirmations.
 * @throws PlanRefused (exit 2) with reason unknown | expired | used | drifted | unconfirmed | portal
 */
export async function applyPlan(planId: string, o: ApplyOptions): Promise<RunResult> {
  const store = o.store ?? (await defaultPlanStore());
  const stored = await store.get(planId);
  if (!stored) throw new PlanRefused('unknown', `unknown plan "${planId}" (no such plan)`);
  const { plan } = stored;
  if (Date.parse(plan.expiresAt) < Date.now())
    throw new PlanRefused('expired', `plan ${planId} expired at ${plan.expiresAt}; run plan again`);
  if (await store.isUsed(planId)) throw new PlanRefused('used', `plan ${planId} was already used`);
  if (plan.portal && o.client.portal?.id && plan.portal !== o.client.portal.id)
    throw new PlanRefused('portal', `plan ${planId} was made for another portal`);
  if (plan.writes.length && !o.confirmWrite)
    throw new PlanRefused(
      'unconfirmed',
      `plan ${planId} has ${plan.writes.length} writes: confirm them (--confirm-write)`,
    );
  if (plan.risk === 'destructive' && !o.confirmDestructive)
    throw new PlanRefused('unconfirmed', `plan ${planId} deletes data: confirm it (--confirm-destructive)`);
  const p = loadPipelineObject(stored.pipeline, stored.file ?? plan.pipeline.name);
  if (stored.path) (p as { path?: string }).path = stored.path;
  const again = await planPipeline(p, { ...o, inputs: plan.inputs, now: plan.now, store: false });
  if (again.id !== plan.id) {
    const changed = again.stateHash !== plan.stateHash ? 'the data it read changed' : 'the resolved writes changed';
    throw new PlanRefused(
      'drifted',
      `plan ${planId} drifted: ${changed} since it was made; review the new plan ${again.id}`,
    );
  }
  if (!(await store.claim(planId))) throw new PlanRefused('used', `plan ${planId} was already used`);
  const r = await runPipeline(p, { ...o, inputs: plan.inputs, now: plan.now, mode: 'full', planId });
  if (r.status === 'refused') throw new RuntimeFailure(`plan ${planId} refused: ${r.error ?? ''}`);
  return r;
}
