/**
 * Search and routing over the loaded catalog: Russian and English words, with word endings tolerated
 * (сделку ~ сделка, deals ~ deal).
 */
import type { MethodEntry } from '../generated/catalog-pack.js';
import type { CatalogMethod, PackInfo } from './model.js';
import type { CompiledIndex } from './store.js';

/** Lower-cases and strips a few letters of ending so that inflected ru/en words match (min 3 letters kept). */
export function stem(word: string): string {
  const w = word.toLowerCase().replace(/ё/g, 'е');
  if (w.length <= 4) return w;
  if (/^[a-z]/.test(w)) return w.replace(/(ies|es|s|ing|ed)$/, '').slice(0, Math.max(4, w.length - 1));
  return w.slice(0, Math.max(3, w.length - 2));
}

/** Lower-cased words of a text (letters, digits, `_ . -`). */
export function tokens(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/ё/g, 'е')
    .split(/[^\p{L}\p{N}_.-]+/u)
    .filter((t) => t.length > 0);
}

/**
 * True when `term` (one or more words) occurs in `text` at word starts. Single-word terms are used as written
 * (vocabulary terms are already stems: `сделк`); in multi-word terms each word may carry another ending.
 */
export function mentions(textTokens: string[], term: string): boolean {
  const parts = tokens(term);
  if (parts.length === 0) return false;
  for (let i = 0; i + parts.length <= textTokens.length; i++) {
    let ok = true;
    for (let j = 0; j < parts.length; j++) {
      const t = textTokens[i + j]!;
      const p = parts[j]!;
      if (!(t.startsWith(p) || (parts.length > 1 && p.length > 4 && t.startsWith(stem(p))))) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

/** What {@link searchMethods} searches: the curated entries by lower-cased name, the packs, the reference map. */
export interface SearchSpace {
  curated: Map<string, CatalogMethod>;
  packByName: Map<string, PackInfo>;
  reference: CompiledIndex['reference'];
}

/**
 * Ranked search over curated methods (name, summary en/ru, entity, pack vocabulary) and reference names; every
 * word must match (`Catalog.search` of ./model.ts).
 */
export function searchMethods(
  words: string,
  opts: { packs?: string[]; limit?: number },
  space: SearchSpace,
): CatalogMethod[] {
  const { curated, packByName } = space;
  const qs = tokens(words);
  if (qs.length === 0) return [];
  const allowed = opts.packs ? new Set(opts.packs) : undefined;
  const scored: Array<{ m: CatalogMethod; score: number }> = [];
  for (const m of curated.values()) {
    if (allowed && !allowed.has(m.pack!)) continue;
    const pack = packByName.get(m.pack!);
    const nameL = m.name.toLowerCase();
    const text = tokens(`${m.summary?.en ?? ''} ${m.summary?.ru ?? ''} ${m.entity ?? ''}`);
    let score = 0;
    let hits = 0;
    for (const q of qs) {
      let s = 0;
      if (nameL === q) s = 10;
      else if (nameL.includes(q)) s = 5;
      else if (mentions(text, q) || text.some((t) => t.startsWith(stem(q)))) s = 3;
      else if (
        pack &&
        [...pack.vocabulary.en, ...pack.vocabulary.ru].some((v) => mentions(tokens(v), q) || mentions([q], v))
      )
        s = 1;
      if (s > 0) hits++;
      score += s;
    }
    if (hits === qs.length) scored.push({ m, score: score + (m.deprecated ? 0 : 0.5) });
  }
  if (!allowed) {
    for (const [key, row] of Object.entries(space.reference)) {
      if (curated.has(key)) continue;
      if (qs.every((q) => key.includes(q))) scored.push({ m: { ...referenceStub(row), curated: false }, score: 2 });
    }
  }
  scored.sort((a, b) => b.score - a.score || a.m.name.localeCompare(b.m.name));
  const out = scored.map((s) => s.m);
  return opts.limit ? out.slice(0, opts.limit) : out;
}

/** Packs whose vocabulary the text mentions, most mentions first (ties in pack order); `['core']` when none. */
export function routeToPacks(text: string, packs: PackInfo[], order: Map<string, number>): string[] {
  const tks = tokens(text);
  const hits: Array<[string, number]> = [];
  for (const p of packs) {
    let n = 0;
    for (const v of [...p.vocabulary.en, ...p.vocabulary.ru]) if (mentions(tks, v)) n++;
    if (n > 0) hits.push([p.name, n]);
  }
  if (hits.length === 0) return ['core'];
  hits.sort((a, b) => b[1] - a[1] || (order.get(a[0]) ?? 99) - (order.get(b[0]) ?? 99));
  return hits.map((h) => h[0]);
}

/** A light entry built from the reference name map (search results; `method()` returns the full entry). */
export function referenceStub(row: CompiledIndex['reference'][string]): MethodEntry {
  return { name: row[0], scope: row[4], risk: row[2], risk_source: 'heuristic', deprecated: row[3] === 1 };
}
