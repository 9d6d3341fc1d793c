/**
 * "Did you mean" suggestions: the candidate nearest to a misspelt name by edit distance.
 */

/**
 * Levenshtein distance of `a` and `b` (insertions, deletions, substitutions, each 1), case-sensitive; stops early
 * and returns `limit + 1` once every path exceeds `limit`.
 */
export function editDistance(a: string, b: string, limit = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > limit) return limit + 1;
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The candidate closest to `name` (case-insensitive edit distance; ties: the first in `candidates`), or undefined
 * when none is within `maxDistance` (default: a third of the name's length, at least 2).
 */
export function closest(name: string, candidates: Iterable<string>, maxDistance?: number): string | undefined {
  const n = name.toLowerCase();
  let best: string | undefined;
  let bestD = maxDistance ?? Math.max(2, Math.floor(n.length / 3));
  for (const c of candidates) {
    const d = editDistance(n, c.toLowerCase(), bestD);
    if (d < bestD || (d === bestD && best === undefined)) {
      best = c;
      bestD = d;
    }
  }
  return best;
}
