import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** Every file under `dir` (recursively). */
export function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/**
 * Reads every file under the given dirs (gzip archives decompressed) and returns `file: secret` for each secret
 * found. Secrets shorter than 6 characters are ignored.
 */
export function findSecrets(dirs: string[], secrets: string[]): string[] {
  const hits: string[] = [];
  const wanted = secrets.filter((s) => s && s.length >= 6);
  for (const f of dirs.flatMap(filesUnder)) {
    const raw = readFileSync(f);
    const text = (f.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8');
    for (const s of wanted) if (text.includes(s)) hits.push(`${f}: ${s.slice(0, 4)}…`);
  }
  return hits;
}
