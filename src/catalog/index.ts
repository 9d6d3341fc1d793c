/**
 * The method catalog: curated packs + recipes + the imported reference set, loaded once per process.
 *
 * Data flows one way: catalog → checker → compiler → runner → client. Consumers use {@link loadCatalog} and the
 * generated `MethodEntry` type; they never read catalog files themselves.
 *
 * Source: Bitrix24 REST docs (https://apidocs.bitrix24.com), facts imported by `npm run catalog:import`.
 */
import type { CatalogPack, LocalizedText, MethodEntry, PackVocabulary } from '../generated/catalog-pack.js';
import type { Recipe } from '../generated/recipe.js';
import { InvalidInputError } from '../lib/failures.js';
import { type CompiledIndex, defaultCatalogDir, loadIndex, readShard } from './store.js';

export type { CatalogPack, DonePhrases, ListSemantics, MethodEntry, MethodParam } from '../generated/catalog-pack.js';
export type { Recipe, RecipeStep } from '../generated/recipe.js';

/** The twelve pack names, in display order. */
export const PACK_NAMES = [
  'core',
  'comms',
  'automation',
  'collab',
  'content',
  'boards',
  'commerce',
  'services',
  'platform',
  'sites',
  'compliance',
  'diagnostics',
] as const;

/** One curated pack as the API exposes it. */
export interface PackInfo {
  name: string;
  title: LocalizedText;
  /** Least-privilege webhook scopes the pack needs (scope codes such as `crm`, `task`, `im`). */
  scopes: string[];
  vocabulary: PackVocabulary;
  methods: MethodEntry[];
}

/** A catalog entry as returned by {@link Catalog.method}: `pack` is set for curated entries. */
export type CatalogMethod = MethodEntry & { pack?: string; curated: boolean };

/** The loaded catalog. */
export interface Catalog {
  /** Curated packs in {@link PACK_NAMES} order (unknown extra packs follow, sorted). */
  packs: PackInfo[];
  /** Looks a method up by name, case-insensitively: curated entry first, else the reference entry. */
  method(name: string): CatalogMethod | undefined;
  recipes: Recipe[];
  recipe(name: string): Recipe | undefined;
  /**
   * Ranked search over curated methods (name, summary en/ru, entity, pack vocabulary) and reference names.
   * Russian and English; word endings are tolerated (сделку ~ сделка, deals ~ deal).
   */
  search(words: string, opts?: { packs?: string[]; limit?: number }): CatalogMethod[];
  /** Union of the packs' scopes, sorted: the least-privilege webhook scope set. Throws InvalidInputError on an unknown pack. */
  scopesFor(packs: string[]): string[];
  /** Packs whose vocabulary the text mentions, most mentions first; `['core']` when none. */
  routePacks(text: string): string[];
  /** Number of reference methods (the whole documented set). */
  referenceSize: number;
  /** Every known method name (curated ∪ reference), documented case. */
  methodNames(): string[];
  /** Directory the catalog was loaded from. */
  dir: string;
  /** True when `catalog/index.json` was missing or out of date and the sources were compiled in memory. */
  stale: boolean;
}

const cache = new Map<string, Catalog>();

/**
 * Loads the catalog (cached per process and directory).
 *
 * @param opts.dir catalog directory; default the process catalog directory (`defaultCatalogDir()`: `B24FLOW_CATALOG_DIR` set by the CLI, or the shipped `catalog/`)
 * @throws Error when the directory or its sources cannot be read/parsed (run `b24flow catalog validate`)
 */
export function loadCatalog(opts: { dir?: string } = {}): Catalog {
  const dir = opts.dir ?? defaultCatalogDir();
  const hit = cache.get(dir);
  if (hit) return hit;
  const { index, stale } = loadIndex(dir);
  const cat = makeCatalog(dir, index, stale);
  cache.set(dir, cat);
  return cat;
}

/** Drops the per-process cache (tests that edit catalog files). */
export function clearCatalogCache(): void {
  cache.clear();
}

/** Lower-cases and strips a few letters of ending so that inflected ru/en words match (min 3 letters kept). */
export function stem(word: string): string {
  const w = word.toLowerCase().replace(/ё/g, 'е');
  if (w.length <= 4) return w;
  if (/^[a-z]/.test(w)) return w.replace(/(ies|es|s|ing|ed)$/, '').slice(0, Math.max(4, w.length - 1));
  return w.slice(0, Math.max(3, w.length - 2));
}

function tokens(text: string): string[] {
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
function mentions(textTokens: string[], term: string): boolean {
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

function makeCatalog(dir: string, index: CompiledIndex, stale: boolean): Catalog {
  const order = new Map<string, number>(PACK_NAMES.map((n, i) => [n, i]));
  const packs: PackInfo[] = index.packs
    .map((p: CatalogPack) => ({
      name: p.pack,
      title: p.title,
      scopes: p.scopes,
      vocabulary: p.vocabulary ?? { en: [], ru: [] },
      methods: p.methods,
    }))
    .sort((a, b) => (order.get(a.name) ?? 99) - (order.get(b.name) ?? 99) || a.name.localeCompare(b.name));
  const curated = new Map<string, CatalogMethod>();
  for (const p of packs) {
    for (const m of p.methods) {
      const key = m.name.toLowerCase();
      if (!curated.has(key)) curated.set(key, { ...m, pack: p.name, curated: true });
    }
  }
  const shards = new Map<string, Map<string, MethodEntry>>();
  const fromShard = (stemName: string, key: string): MethodEntry | undefined => {
    let shard = shards.get(stemName);
    if (!shard) {
      shard = new Map();
      for (const m of readShard(dir, stemName).methods) shard.set(m.name.toLowerCase(), m);
      shards.set(stemName, shard);
    }
    return shard.get(key);
  };
  const method = (name: string): CatalogMethod | undefined => {
    const key = name.toLowerCase();
    const c = curated.get(key);
    if (c) return c;
    const row = index.reference[key];
    if (!row) return undefined;
    const m = fromShard(row[1], key);
    return m ? { ...m, curated: false } : undefined;
  };
  const recipes = index.recipes;
  const packByName = new Map(packs.map((p) => [p.name, p]));

  const search = (words: string, opts: { packs?: string[]; limit?: number } = {}): CatalogMethod[] => {
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
      for (const [key, row] of Object.entries(index.reference)) {
        if (curated.has(key)) continue;
        if (qs.every((q) => key.includes(q))) scored.push({ m: { ...referenceStub(row), curated: false }, score: 2 });
      }
    }
    scored.sort((a, b) => b.score - a.score || a.m.name.localeCompare(b.m.name));
    const out = scored.map((s) => s.m);
    return opts.limit ? out.slice(0, opts.limit) : out;
  };

  const scopesFor = (names: string[]): string[] => {
    const out = new Set<string>();
    for (const n of names) {
      const p = packByName.get(n);
      if (!p) {
        throw new InvalidInputError(`unknown pack "${n}" (known: ${packs.map((x) => x.name).join(', ')})`);
      }
      for (const s of p.scopes) out.add(s);
    }
    return [...out].sort();
  };

  const routePacks = (text: string): string[] => {
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
  };

  return {
    packs,
    method,
    recipes,
    recipe: (name) => recipes.find((r) => r.recipe === name),
    search,
    scopesFor,
    routePacks,
    referenceSize: Object.keys(index.reference).length,
    methodNames: () => {
      const names = new Map<string, string>();
      for (const row of Object.values(index.reference)) names.set(row[0].toLowerCase(), row[0]);
      for (const m of curated.values()) names.set(m.name.toLowerCase(), m.name);
      return [...names.values()].sort();
    },
    dir,
    stale,
  };
}

/** A light entry built from the reference name map (search results; `method()` returns the full entry). */
function referenceStub(row: CompiledIndex['reference'][string]): MethodEntry {
  return { name: row[0], scope: row[4], risk: row[2], risk_source: 'heuristic', deprecated: row[3] === 1 };
}

export { formatDone, pluralCategory } from './plural.js';
