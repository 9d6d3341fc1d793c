/**
 * The result cache of `b24flow check`, like a linter's `--cache`: checking is pure given the pipeline files (and
 * their `pipeline:` sub-files), the catalog, the rows-per-list assumption and the code, so an outcome is reused
 * while all of these are unchanged. Editors and CI call `check` on every save or push; a hit prints in the time it
 * takes to read the files (no YAML parser, CEL checker or catalog index is loaded).
 *
 * Key: the compiled code's identity (`dist/build-id.json`, written by `npm run build`), the catalog sources' stamp
 * (path, size and modification time of every pack, recipe and reference shard), `--items`, the file's absolute path and bytes.
 * Dependencies checked on every hit: the sha256 of each sub-pipeline file (or its absence).
 * Not cached: runs with a configured portal (the scope and auth rules depend on the portal's answer), and code
 * without a build id (a bare `tsc` output).
 *
 * Location: `B24FLOW_CACHE_DIR`, else `$XDG_CACHE_HOME/b24flow/check`, else `~/.cache/b24flow/check` (0700; entries
 * 0600). `check --no-cache` neither reads nor writes it.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { defaultCatalogDir, sourceStamp } from '../../catalog/store.js';
import { cacheKey, fileFingerprint, ResultCache } from '../../lib/resultCache.js';
import type { CheckedFile } from '../../pipeline/check/files.js';
import { loadEnv } from '../compose.js';

/** The cache for one `check` invocation: one lookup for all files, one store after a miss. */
export interface CheckCache {
  /** The outcomes of every file, or undefined when any of them misses. */
  lookup(files: string[]): CheckedFile[] | undefined;
  /** Stores the outcomes computed after a miss. */
  store(outcomes: CheckedFile[]): void;
}

/** Where the entries live (see the module comment). */
export function checkCacheDir(env: NodeJS.ProcessEnv): string {
  if (env.B24FLOW_CACHE_DIR) return join(env.B24FLOW_CACHE_DIR, 'check');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'b24flow', 'check');
}

function buildId(): string | undefined {
  try {
    const raw = readFileSync(new URL('../../build-id.json', import.meta.url), 'utf8');
    const id = (JSON.parse(raw) as { id?: unknown }).id;
    return typeof id === 'string' && id ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens the cache for this process's configuration, or returns undefined when results must not be cached (a portal
 * is configured, or the code has no build id).
 *
 * @param env the process environment (`.env` fills missing keys, as everywhere in the CLI)
 * @param items assumed rows per list (`--items`)
 */
export function openCheckCache(env: NodeJS.ProcessEnv, items: number): CheckCache | undefined {
  const config = loadEnv(env);
  if (config.BITRIX_WEBHOOK_URL?.trim() || (config.B24_CLIENT_ID && config.B24_CLIENT_SECRET)) return undefined;
  const code = buildId();
  if (!code) return undefined;
  const cache = new ResultCache<CheckedFile>(checkCacheDir(env));
  const catalog = sourceStamp(defaultCatalogDir());
  const keyOf = (file: string, bytes: Buffer | string) =>
    cacheKey('check/1', code, catalog, String(items), resolve(file), bytes.toString('base64'));
  const fingerprint = (dep: string) => fileFingerprint(dep.slice('file:'.length));
  return {
    lookup(files) {
      const out: CheckedFile[] = [];
      for (const file of files) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(file);
        } catch {
          return undefined; // unreadable: the checker reports it as a finding
        }
        const hit = cache.get(keyOf(file, bytes), fingerprint);
        if (!hit || hit.file !== file) return undefined;
        out.push(hit);
      }
      return out;
    },
    store(outcomes) {
      for (const o of outcomes) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(o.file);
        } catch {
          continue;
        }
        const own = resolve(o.file);
        const deps: Record<string, string> = {};
        for (const src of o.sources) if (src !== own) deps[`file:${src}`] = fileFingerprint(src);
        cache.put(keyOf(o.file, bytes), deps, o);
      }
    },
  };
}
