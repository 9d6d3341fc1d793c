/**
 * Stored plans: `b24flow plan` saves the plan (TTL 30 min by default), `b24flow apply <plan-id>` applies it once
 * (see run/apply.ts).
 *
 * Files: `<data dir>/plans/<id>.json` (atomic), single use claimed by creating `<id>.used` exclusively. The id is
 * the plan's seal (./planSeal.ts): a keyed hash of its content and a per-save nonce under `<data dir>/plan-key`.
 */
import { open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic.js';
import { InvalidInputError } from '../../lib/failures.js';
import { dataDir } from '../journal.js';
import { PlanKey, planNonce, type SealedContent, sealedPlanId, verifySeal } from './planSeal.js';
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

const ID = /^p[0-9a-f]{8,64}$/;

/** Where a plan is saved for `apply` (the part of {@link PlanStore} that planning needs). */
export interface PlanStoreLike {
  /**
   * Seals the plan with a fresh nonce (its id becomes the keyed hash of its content and the nonce, `plan.id` is
   * set) and saves it: saving the same plan twice gives two ids, each applicable once.
   * @returns the plan id `apply` takes
   */
  save(plan: Plan, extra: { pipeline: unknown; file?: string; path?: string }): Promise<string>;
}

/**
 * File plan store under `<dir>` (default `<dataDir()>/plans`; callers pass the data dir they configured), sealed
 * with the key `<dir>/../plan-key` unless another key is given.
 */
export class FilePlanStore implements PlanStore {
  constructor(
    readonly dir = join(dataDir(), 'plans'),
    readonly key = new PlanKey(join(dirname(dir), 'plan-key')),
  ) {}
  async save(plan: Plan, extra: { pipeline: unknown; file?: string; path?: string }): Promise<string> {
    const stored: StoredPlan = { plan, ...extra, nonce: planNonce() };
    plan.id = sealedPlanId(await this.key.get(), stored);
    await writeFileAtomic(join(this.dir, `${plan.id}.json`), JSON.stringify(stored), 0o600);
    return plan.id;
  }
  async verify(id: string, stored: StoredPlan): Promise<boolean> {
    return typeof stored?.plan === 'object' && stored.plan?.id === id && verifySeal(await this.key.get(), id, stored);
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

/**
 * The default store: the file store under `<dir>/plans`.
 * @param dir data directory (default {@link dataDir}() without an environment, `./data`)
 */
export async function defaultPlanStore(dir: string = dataDir()): Promise<PlanStore> {
  return new FilePlanStore(join(dir, 'plans'));
}
