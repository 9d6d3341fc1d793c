/**
 * The seal of a stored plan: its id is a keyed hash (HMAC-SHA256) of everything `apply` acts on — the pipeline
 * object, inputs, principal, the digest of the state read, the resolved writes, instant, portal and lifetime — so
 * that an approval is bound to the content that was reviewed. Editing a plan file (or forging an id) breaks the
 * seal and `apply` refuses.
 *
 * Every saved plan also seals a fresh random `nonce` (128 bits): two identical requests (same pipeline, inputs,
 * principal, data and even the same millisecond) get two plans with two ids, each applied once, while each id still
 * binds the content that was reviewed.
 *
 * The key: 32 random bytes ({@link newPlanKey}), kept by the plan store (src/store/plans.ts: the `settings` row
 * `plan-key`, shared by every process and machine on one store).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { canonicalJson, hashOf } from '../load.js';
import type { Plan } from './types.js';

/** Bytes of the plan key. */
const KEY_BYTES = 32;
/** Hex digits of the HMAC kept in a plan id: 32 = 128 bits (typable, yet not guessable). */
const ID_HEX = 32;

/** What a plan is stored with besides the plan itself (see `StoredPlan` of ./planStore.ts). */
export interface SealedContent {
  plan: Plan;
  /** The pipeline object that `apply` plans again. */
  pipeline: unknown;
  file?: string;
  path?: string;
  /**
   * A random value (32 hex digits) chosen when the plan is saved, so that each request gets its own plan id;
   * absent in plans saved before it existed (their seal stays valid).
   */
  nonce?: string;
}

/** A fresh plan key (32 random bytes). */
export function newPlanKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/** Bytes of a plan key (a stored key of another length is damaged). */
export const PLAN_KEY_BYTES = KEY_BYTES;

/**
 * The canonical JSON that a plan id seals: the plan without its id (as it is stored: JSON values only), the hash of
 * the pipeline object, its file and path, and the nonce. The plan carries the inputs, principal, state digest (`stateHash`),
 * writes, instant, portal and lifetime.
 */
export function sealedText(c: SealedContent): string {
  const { id: _id, ...plan } = c.plan;
  // the stored form: what JSON keeps (no undefined, no non-enumerable `reads`)
  const stored = JSON.parse(JSON.stringify(plan)) as unknown;
  const pipeline = hashOf(JSON.parse(JSON.stringify(c.pipeline ?? null)));
  return canonicalJson({ plan: stored, pipeline, file: c.file, path: c.path, nonce: c.nonce });
}

/** A fresh plan nonce: 128 random bits as 32 hex digits (see {@link SealedContent.nonce}). */
export function planNonce(): string {
  return randomBytes(16).toString('hex');
}

/** The id of a sealed plan: `p` + the first 128 bits (hex) of HMAC-SHA256(key, {@link sealedText}). */
export function sealedPlanId(key: Buffer, c: SealedContent): string {
  return `p${createHmac('sha256', key).update(sealedText(c)).digest('hex').slice(0, ID_HEX)}`;
}

/** True when `id` is the seal of `c` under `key` (constant-time comparison). */
export function verifySeal(key: Buffer, id: string, c: SealedContent): boolean {
  const want = Buffer.from(sealedPlanId(key, c));
  const got = Buffer.from(id);
  return want.length === got.length && timingSafeEqual(want, got);
}
