/**
 * Stored plans: `b24flow plan` saves the plan (TTL 30 min by default), `b24flow apply <plan-id>` applies it once
 * (see run/apply.ts).
 *
 * Files: `<data dir>/plans/<id>.json` (atomic), single use claimed by creating `<id>.used` exclusively.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../lib/atomic.js';
import { InvalidInputError } from '../../lib/failures.js';
import { dataDir } from '../journal.js';
import type { Plan } from './types.js';

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

/** Where a plan is saved for `apply` (the part of {@link PlanStore} that planning needs). */
export interface PlanStoreLike {
  save(plan: Plan, extra: { pipeline: unknown; file?: string; path?: string }): Promise<void>;
}

/** File plan store under `<dir>` (default `<dataDir()>/plans`; callers pass the data dir they configured). */
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

/**
 * The default store: the file store under `<dir>/plans`.
 * @param dir data directory (default {@link dataDir}() without an environment, `./data`)
 */
export async function defaultPlanStore(dir: string = dataDir()): Promise<PlanStore> {
  return new FilePlanStore(join(dir, 'plans'));
}
