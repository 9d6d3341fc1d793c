/**
 * Catalog source files read *with* YAML source positions, for `catalog validate` and the importer.
 * Kept apart from store.ts so that the fast paths (`catalog show`) never load the YAML parser.
 */
import { join } from 'node:path';
import type { CatalogPack } from '../generated/catalog-pack.js';
import type { Recipe } from '../generated/recipe.js';
import { readYamlSource, type YamlSource } from '../lib/yamlSource.js';
import { listSources } from './store.js';

/** Reads the curated pack files with positions. Throws InvalidInputError (exit 2) on bad YAML. */
export function readPackSources(dir: string): YamlSource<CatalogPack>[] {
  return listSources(dir).packs.map((rel) => readYamlSource<CatalogPack>(join(dir, rel)));
}

/** Reads the recipe files with positions. Throws InvalidInputError (exit 2) on bad YAML. */
export function readRecipeSources(dir: string): YamlSource<Recipe>[] {
  return listSources(dir).recipes.map((rel) => readYamlSource<Recipe>(join(dir, rel)));
}
