/**
 * A small on-disk cache of computed results with their dependencies, the way a build tool keeps a depfile: an entry
 * is found by a key (a hash of everything known up front) and is used only while each dependency it recorded still
 * has the fingerprint it had when the result was computed (a file's content hash, an environment variable's
 * presence, …). Anything unreadable, corrupt or changed is a miss, never an error: the caller computes afresh.
 *
 * Files are private: the directory is created 0700 and entries are written 0600, atomically (temp file + rename), so
 * concurrent processes see a whole entry or none.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from './atomic.js';

/** One stored entry: the dependency fingerprints it was computed under, and the value. */
interface Entry<T> {
  deps: Record<string, string>;
  value: T;
}

/**
 * Hash of the key parts (sha256, hex). Parts are length-prefixed so that `["ab", "c"]` and `["a", "bc"]` differ.
 *
 * @param parts strings that together identify the computation (tool version, input bytes, flags, …)
 */
export function cacheKey(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(`${p.length}:`).update(p);
  return h.digest('hex');
}

/** sha256 (hex) of a file's bytes, or `"missing"` when it cannot be read. */
export function fileFingerprint(path: string): string {
  try {
    return createHash('sha256').update(readFileSync(path)).digest('hex');
  } catch {
    return 'missing';
  }
}

/**
 * The cache. `T` must survive `JSON.stringify` / `JSON.parse` unchanged.
 *
 * @example
 *   const cache = new ResultCache<CheckResult>(dir);
 *   const hit = cache.get(key, (dep) => fingerprintOf(dep));
 *   if (!hit) cache.put(key, { 'file:/abs/a.yaml': fileFingerprint('/abs/a.yaml') }, computed);
 */
export class ResultCache<T> {
  /** @param dir directory of the entries (created 0700 on first write) */
  constructor(private readonly dir: string) {}

  private file(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  /**
   * The value stored under `key` when every recorded dependency still has its recorded fingerprint.
   *
   * @param fingerprint current fingerprint of a dependency id (as given to {@link put})
   * @returns the value, or undefined on a miss (absent, unreadable, corrupt, or a dependency changed)
   */
  get(key: string, fingerprint: (dep: string) => string): T | undefined {
    let entry: Entry<T>;
    try {
      entry = JSON.parse(readFileSync(this.file(key), 'utf8')) as Entry<T>;
    } catch {
      return undefined;
    }
    if (!entry || typeof entry !== 'object' || typeof entry.deps !== 'object' || entry.deps === null) return undefined;
    for (const [dep, fp] of Object.entries(entry.deps)) if (fingerprint(dep) !== fp) return undefined;
    return entry.value;
  }

  /**
   * Stores `value` under `key` with the dependencies' fingerprints. A failure to write (read-only home, full disk)
   * is ignored: the cache only ever saves work.
   */
  put(key: string, deps: Record<string, string>, value: T): void {
    try {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileAtomicSync(this.file(key), JSON.stringify({ deps, value } satisfies Entry<T>), 0o600);
    } catch {
      // best effort
    }
  }
}
