/**
 * Stored plans: `b24flow plan` saves the plan (TTL 30 min by default), `b24flow apply <plan-id>` applies it once
 * (see run/apply.ts).
 *
 * The id is the plan's seal (./planSeal.ts): a keyed hash of its content and a per-save nonce. The durable store is
 * src/store/plans.ts (table `plans`, the key in `settings`, shared by every process on the store), passed in by the
 * composition root; {@link MemoryPlanStore} serves unit tests.
 */
import { InvalidInputError } from '../../lib/failures.js';
import { newPlanKey, planNonce, type SealedContent, sealedPlanId, verifySeal } from './planSeal.js';
import type { Plan } from './types.js';

/** A stored plan with what is needed to re-plan it (the pipeline object, its file and path). */
export type StoredPlan = SealedContent;

/** Refusals of `apply`; `reason` is machine-readable (the bot maps it to a message). */
export class PlanRefused extends InvalidInputError {
  constructor(
    readonly reason: 'unknown' | 'expired' | 'used' | 'drifted' | 'unconfirmed' | 'portal' | 'changed' | 'principal',
    message: string,
    /** For `drifted`: the new plan, stored, that `apply` accepts (the message names its id). */
    readonly plan?: Plan,
  ) {
    super(message);
    this.name = `Plan${reason[0]!.toUpperCase()}${reason.slice(1)}Error`;
  }
}

/** Storage of plans for apply. */
export interface PlanStore extends PlanStoreLike {
  /** The stored plan as saved, or undefined; its content is not verified yet (see {@link PlanStore.verify}). */
  get(id: string): Promise<StoredPlan | undefined>;
  /** True when `id` is the seal of `stored` (the content was not changed since it was saved). */
  verify(id: string, stored: StoredPlan): Promise<boolean>;
  /** Marks the plan used; false when it was already used (single use, race-free). */
  claim(id: string): Promise<boolean>;
  isUsed(id: string): Promise<boolean>;
}

/** The shape of a plan id (`p` + hex). */
export const PLAN_ID = /^p[0-9a-f]{8,64}$/;

/** Where a plan is saved for `apply` (the part of {@link PlanStore} that planning needs). */
export interface PlanStoreLike {
  /**
   * Seals the plan with a fresh nonce (its id becomes the keyed hash of its content and the nonce, `plan.id` is
   * set) and saves it: saving the same plan twice gives two ids, each applicable once.
   * @returns the plan id `apply` takes
   */
  save(plan: Plan, extra: { pipeline: unknown; file?: string; path?: string }): Promise<string>;
}

/** Plans in memory, sealed with a key of their own (unit tests; one process). */
export class MemoryPlanStore implements PlanStore {
  private plans = new Map<string, string>();
  private used = new Set<string>();
  constructor(readonly key: Buffer = newPlanKey()) {}
  async save(plan: Plan, extra: { pipeline: unknown; file?: string; path?: string }): Promise<string> {
    const stored: StoredPlan = { plan, ...extra, nonce: planNonce() };
    plan.id = sealedPlanId(this.key, stored);
    this.plans.set(plan.id, JSON.stringify(stored));
    return plan.id;
  }
  async verify(id: string, stored: StoredPlan): Promise<boolean> {
    return typeof stored?.plan === 'object' && stored.plan?.id === id && verifySeal(this.key, id, stored);
  }
  async get(id: string): Promise<StoredPlan | undefined> {
    const s = PLAN_ID.test(id) ? this.plans.get(id) : undefined;
    return s ? (JSON.parse(s) as StoredPlan) : undefined;
  }
  async claim(id: string): Promise<boolean> {
    if (this.used.has(id)) return false;
    this.used.add(id);
    return true;
  }
  async isUsed(id: string): Promise<boolean> {
    return this.used.has(id);
  }
}
