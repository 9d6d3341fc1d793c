/**
 * The suite-wide secret scan: reads every file under a directory (gzip archives decompressed) and reports each
 * line that contains one of the given secret values.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** One finding: file, 1-based line number, and the secret's first 4 characters (never the whole value). */
export interface SecretHit {
  file: string;
  line: number;
  secret: string;
}

/** Every file under `dir` (recursively), skipping directory names in `skip`. */
export function filesUnder(dir: string, skip: ReadonlySet<string> = new Set()): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => {
    if (skip.has(n)) return [];
    const p = join(dir, n);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      return [];
    }
    return st.isDirectory() ? filesUnder(p, skip) : st.isFile() ? [p] : [];
  });
}

/**
 * Scans every file under `dirs` for `secrets` (values shorter than 6 characters are ignored).
 * @returns one hit per (file, line, secret)
 */
export function scanForSecrets(
  dirs: string[],
  secrets: Iterable<string>,
  opts: { skip?: ReadonlySet<string> } = {},
): SecretHit[] {
  const wanted = [...new Set([...secrets].filter((s) => typeof s === 'string' && s.length >= 6))];
  const hits: SecretHit[] = [];
  if (!wanted.length) return hits;
  for (const f of dirs.flatMap((d) => filesUnder(d, opts.skip))) {
    let raw: Buffer;
    try {
      raw = readFileSync(f);
      if (f.endsWith('.gz')) raw = gunzipSync(raw);
    } catch {
      continue;
    }
    const text = raw.toString('utf8');
    if (!wanted.some((s) => text.includes(s))) continue;
    const lines = text.split('\n');
    lines.forEach((l, i) => {
      for (const s of wanted) if (l.includes(s)) hits.push({ file: f, line: i + 1, secret: `${s.slice(0, 4)}…` });
    });
  }
  return hits;
}

/** `file:line: secret …` lines for a failure message (paths relative to `root` when given). */
export function formatHits(hits: SecretHit[], root?: string): string {
  return hits.map((h) => `${root ? relative(root, h.file) : h.file}:${h.line}: contains secret ${h.secret}`).join('\n');
}
