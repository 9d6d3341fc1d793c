/**
 * `apply`: a stored plan is applied once, by the principal that made it, and only as it was made: its id is the
 * keyed hash of its content (./planSeal.ts), verified before anything else is trusted. Apply then re-plans with the
 * same pipeline, inputs and instant; when the resolved writes or the state read differ the data drifted, the plan
 * is refused and the new plan is stored so that the refusal can name a plan `apply` accepts.
 */
import { RuntimeFailure } from '../../lib/failures.js';
import { defaultCatalog } from '../catalog.js';
import { compile } from '../compile/program.js';
import type { Journal } from '../journal.js';
import { hashOf, loadPipelineObject } from '../load.js';
import { resolvedWrites } from './plan.js';
import { PlanRefused, type PlanStore } from './planStore.js';
import { planPipeline, runPipeline } from './runner.js';
import type { RunOptions, RunResult } from './types.js';

/**
 * Options of {@link applyPlan}. `principal` must be the plan's (see {@link RunOptions.principal}); `store` is the plan
 * store the plan was saved in (src/cli passes the store's).
 */
export interface ApplyOptions extends Omit<RunOptions, 'mode' | 'inputs' | 'now' | 'resume' | 'planId'> {
  store: PlanStore;
  journal?: Journal | false;
}

/** How the principal is named in a refusal. */
function who(principal: string | undefined): string {
  return principal ?? 'the command line (no principal)';
}

/**
 * Applies a stored plan once: verifies its seal (content unchanged since it was made), principal, TTL, single use
 * and portal, re-reads and refuses on drift (storing the new plan), then runs the pipeline in full mode with the
 * given confirmations.
 * @throws PlanRefused (exit 2) with reason unknown | changed | principal | expired | used | drifted | unconfirmed |
 *   portal; for drifted, `plan` is the new stored plan
 */
export async function applyPlan(planId: string, o: ApplyOptions): Promise<RunResult> {
  const store = o.store;
  const stored = await store.get(planId);
  if (!stored) throw new PlanRefused('unknown', `unknown plan "${planId}" (no such plan)`);
  // nothing in the file is trusted before the seal is checked
  if (!(await store.verify(planId, stored)))
    throw new PlanRefused(
      'changed',
      `plan ${planId} was changed after it was made; make a new plan with b24flow plan <file>`,
    );
  const { plan } = stored;
  if ((plan.principal ?? '') !== (o.principal ?? ''))
    throw new PlanRefused(
      'principal',
      `plan ${planId} was made by ${who(plan.principal)}; ask them to apply it or make your own plan`,
    );
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
  const same = { inputs: plan.inputs, now: plan.now, ...(plan.principal ? { principal: plan.principal } : {}) };
  const again = await planPipeline(p, { ...o, ...same, program, store: false });
  const stateChanged = again.stateHash !== plan.stateHash;
  if (stateChanged || hashOf(resolvedWrites(again.writes)) !== hashOf(resolvedWrites(plan.writes))) {
    // store the new plan so that the id the refusal names is one `apply` accepts
    await store.save(again, { pipeline: stored.pipeline, file: stored.file, path: stored.path });
    const changed = stateChanged ? 'the data it read changed' : 'the resolved writes changed';
    throw new PlanRefused(
      'drifted',
      `plan ${planId} drifted: ${changed} since it was made; review the new plan ${again.id}`,
      again,
    );
  }
  if (!(await store.claim(planId))) throw new PlanRefused('used', `plan ${planId} was already used`);
  // A plan with no writes (its write steps' conditions were false, its lists empty) is applied as it was shown: the
  // run may reach its write steps (the static confirmation check passes), but the empty gate sends none of them — a
  // write whose condition turned true after the re-plan is listed as not approved, never sent.
  const readOnly =
    plan.writes.length === 0 ? { confirmWrite: true, confirmDestructive: true, approvedWrites: new Set<string>() } : {};
  const r = await runPipeline(p, { ...o, ...same, ...readOnly, program, mode: 'full', planId });
  if (r.status === 'refused') throw new RuntimeFailure(`plan ${planId} refused: ${r.error ?? ''}`);
  return r;
}
