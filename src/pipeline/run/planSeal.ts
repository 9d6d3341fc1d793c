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
 * The key: `<data dir>/plan-key`, 32 random bytes, mode 0600 (data dir created 0700 when missing), made on first
 * use. Two processes making it at once end with one key: each writes a complete temporary file and hard-links it
 * to the final name, which fails with EEXIST for the loser (O_EXCL semantics), who then reads the winner's key.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { link, mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RuntimeFailure } from '../../lib/failures.js';
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

/** The plan key file (`<data dir>/plan-key`), created on first use. */
export class PlanKey {
  /** @param file path of the key file, normally `<data dir>/plan-key` */
  constructor(readonly file: string) {}

  /**
   * The key, created when missing (0600; its directory 0700 when created here).
   * @throws RuntimeFailure when the file exists with a length other than 32 bytes; fs errors (EACCES, ...)
   */
  async get(): Promise<Buffer> {
    const existing = await this.read();
    if (existing) return existing;
    await mkdir(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(randomBytes(KEY_BYTES));
      await fh.sync();
      await fh.close();
      // link() creates the name exclusively: a racing process that linked first wins, its key is read below
      await link(tmp, this.file).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    } finally {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
    }
    const key = await this.read();
    if (!key) throw new RuntimeFailure(`plan key ${this.file} could not be created`);
    return key;
  }

  private async read(): Promise<Buffer | undefined> {
    let key: Buffer;
    try {
      key = await readFile(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    if (key.length !== KEY_BYTES)
      throw new RuntimeFailure(
        `plan key ${this.file} is damaged (${key.length} bytes, expected ${KEY_BYTES}); delete it and make the plans again`,
      );
    return key;
  }
}

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
