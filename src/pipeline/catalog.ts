/**
 * The slice of the catalog (src/catalog) the pipeline runtime needs, as a structural interface so that tests can
 * pass a small in-memory catalog and the checker never reaches into the catalog's internals.
 */
import { loadCatalog } from '../catalog/index.js';
import type { MethodEntry } from '../generated/catalog-pack.js';
import type { Recipe } from '../generated/recipe.js';

export type { MethodEntry, Recipe };

/** A catalog method with the pack it belongs to (undefined for reference-only entries). */
export type MethodInfo = MethodEntry & { pack?: string; curated?: boolean };

/** What the checker, planner and runner read from the catalog (implemented by src/catalog's `loadCatalog()`). */
export interface CatalogView {
  packs: { name: string; scopes?: string[]; methods: MethodEntry[] }[];
  /** Case-insensitive lookup. */
  method(name: string): MethodInfo | undefined;
  recipe?(name: string): Recipe | undefined;
}

/**
 * Loads the project catalog (curated packs + reference) through src/catalog's `loadCatalog()` (loaded once per
 * process there). The one path through which the pipeline gets the catalog when the caller passes none.
 * @param opts.dir catalog directory (default: the package's own catalog)
 * @throws InvalidInputError when the catalog files are missing or invalid
 */
export async function defaultCatalog(opts: { dir?: string } = {}): Promise<CatalogView> {
  return loadCatalog(opts.dir ? { dir: opts.dir } : {});
}

/** A small catalog built from explicit entries (tests, sandboxes, embedding). */
export function catalogFrom(
  packs: { name: string; scopes?: string[]; methods: MethodEntry[] }[],
  recipes: Recipe[] = [],
): CatalogView {
  const byName = new Map<string, MethodInfo>();
  for (const p of packs)
    for (const m of p.methods) byName.set(m.name.toLowerCase(), { ...m, pack: p.name, curated: true });
  return {
    packs,
    method: (name) => byName.get(name.toLowerCase()),
    recipe: (name) => recipes.find((r) => r.recipe === name),
  };
}
