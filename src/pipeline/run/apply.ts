/**
 * `apply`: a stored plan is applied once. Apply re-plans with the same pipeline, inputs and instant; when the
 * resolved writes or the state read differ (the plan id is a hash of both) the data drifted and the plan is refused.
 */
import { RuntimeFailure } from '../../lib/failures.js';
import { defaultCatalog } from '../catalog.js';
import { compile } from '../compile/program.js';
import type { Journal } from '../journal.js';
import { loadPipelineObject } from '../load.js';
import { defaultPlanStore, PlanRefused, type PlanStore } from './planStore.js';
import { planPipeline, runPipeline } from './runner.js';
import type { RunOptions, RunResult } from './types.js';

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
  const store = o.store ?? (await defaultPlanStore(o.dataDir));
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
  // compiled once for the re-plan and the run
  const program = compile(p, o.catalog ?? o.program?.catalog ?? (await defaultCatalog()), { batching: o.batching });
  const again = await planPipeline(p, { ...o, program, inputs: plan.inputs, now: plan.now, store: false });
  if (again.id !== plan.id) {
    const changed = again.stateHash !== plan.stateHash ? 'the data it read changed' : 'the resolved writes changed';
    throw new PlanRefused(
      'drifted',
      `plan ${planId} drifted: ${changed} since it was made; review the new plan ${again.id}`,
    );
  }
  if (!(await store.claim(planId))) throw new PlanRefused('used', `plan ${planId} was already used`);
  const r = await runPipeline(p, { ...o, program, inputs: plan.inputs, now: plan.now, mode: 'full', planId });
  if (r.status === 'refused') throw new RuntimeFailure(`plan ${planId} refused: ${r.error ?? ''}`);
  return r;
}
