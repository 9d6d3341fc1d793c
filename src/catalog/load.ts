/**
 * Loading the catalog: the compiled index (or the sources when it is stale) of a catalog directory, cached per
 * process and directory, behind the {@link Catalog} interface.
 */
import type { CatalogPack, MethodEntry } from '../generated/catalog-pack.js';
import { InvalidInputError } from '../lib/failures.js';
import { type Catalog, type CatalogMethod, PACK_NAMES, type PackInfo } from './model.js';
import { mergeSynonyms, routeToPacks, searchMethods } from './search.js';
import { type CompiledIndex, defaultCatalogDir, loadIndex, readShard } from './store.js';

const cache = new Map<string, Catalog>();

/**
 * Loads the catalog (cached per process and directory).
 *
 * @param opts.dir catalog directory; default the process catalog directory (`defaultCatalogDir()`: the one the
 *   CLI set from `B24FLOW_CATALOG_DIR`, or the shipped `catalog/`)
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

  const synonyms = mergeSynonyms(index.packs);
  const search = (words: string, opts: { packs?: string[]; limit?: number } = {}): CatalogMethod[] =>
    searchMethods(words, opts, { curated, packByName, reference: index.reference, synonyms });

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

  const routePacks = (text: string): string[] => routeToPacks(text, packs, order);

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
