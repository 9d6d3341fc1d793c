/**
 * `b24flow catalog validate`: JSON Schema validation of every catalog file plus the cross-checks a schema cannot
 * express. Each finding names `file:line:col`, the field (JSON pointer) and the rule, actionlint style.
 *
 * Rules: yaml, schema, kind, pack-name, curated-entry, done-phrases, duplicate-method, method-case, scope-missing,
 * scope-unused, vocabulary-duplicate, list-semantics, unknown-successor, stale-index, unknown-pack, unknown-method,
 * pack-mismatch, uncurated-method, step-kind, duplicate-step, unknown-need, unknown-recipe, unknown-input,
 * unknown-step-ref, missing-param, reconcile, not-in-reference, synonym-duplicate; risk-downgrade, effects-downgrade,
 * unknown-effect-param, effect-condition, effect-redundant (validateRisk.ts).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { CatalogPack, MethodEntry } from '../generated/catalog-pack.js';
import validatePack from '../generated/catalog-pack.validate.js';
import type { Recipe } from '../generated/recipe.js';
import validateRecipe from '../generated/recipe.validate.js';
import { closest } from '../lib/closest.js';
import { type Finding, InvalidInputError } from '../lib/failures.js';
import { ajvErrorsToFindings } from '../lib/schemaValidate.js';
import { parseYamlSource, type YamlSource } from '../lib/yamlSource.js';
import { loadCatalog } from './load.js';
import {
  CATALOG_DIR,
  defaultCatalogDir,
  listSources,
  loadIndex,
  type ReferenceRow,
  readShard,
  sourceHash,
} from './store.js';
import { checkReferenceName } from './validateNames.js';
import { checkEffects, checkRiskFloor, errorAt, warnAt } from './validateRisk.js';

/** Outcome of a validation run. */
export interface ValidationReport {
  findings: Finding[];
  files: number;
  methods: number;
  recipes: number;
}

interface Known {
  name: string;
  pack?: string;
  curated: boolean;
  entry?: MethodEntry;
}

type Validator = ((data: unknown) => boolean) & { errors?: unknown };

interface LoadedFile {
  file: string;
  kind: 'pack' | 'recipe';
  data: unknown;
  /** Positions, parsed lazily for JSON files (JSON is YAML, only slower to parse with positions). */
  src(): YamlSource;
}

function expand(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      for (const f of readdirSync(p).sort()) {
        if (f === 'index.json' || f.startsWith('.')) continue;
        walk(join(p, f));
      }
    } else if (/\.(ya?ml|json)$/.test(p)) out.push(p);
  };
  for (const p of paths) {
    if (!existsSync(p)) throw new InvalidInputError(`${p}: no such file or directory`);
    walk(p);
  }
  return out;
}

/**
 * Validates catalog files.
 *
 * @param opts.dir catalog directory (default: `defaultCatalogDir()`, the process catalog directory)
 * @param opts.paths files/directories to check instead of the whole directory; cross-file checks then use the
 *   shipped catalog for method lookups, and the compiled index is not checked
 * @returns findings (errors and warnings) and counts; never throws for bad content
 * @throws InvalidInputError when a given path does not exist
 */
export function validateCatalog(opts: { dir?: string; paths?: string[] } = {}): ValidationReport {
  const dir = opts.dir ?? defaultCatalogDir();
  const whole = !opts.paths || opts.paths.length === 0;
  const files = whole
    ? (() => {
        const s = listSources(dir);
        return [...s.packs, ...s.recipes, ...s.reference].map((r) => join(dir, r));
      })()
    : expand(opts.paths!);
  const findings: Finding[] = [];
  const display = (f: string) => {
    const r = relative(process.cwd(), f);
    return r.startsWith('..') ? f : r;
  };
  const loaded: LoadedFile[] = [];
  for (const abs of files) {
    const file = display(abs);
    const text = readFileSync(abs, 'utf8');
    let data: unknown;
    let cached: YamlSource | undefined;
    try {
      if (abs.endsWith('.json')) {
        try {
          data = JSON.parse(text);
        } catch {
          cached = parseYamlSource(text, file); // reports the syntax error with a position
          data = cached.data;
        }
      } else {
        cached = parseYamlSource(text, file);
        data = cached.data;
      }
    } catch (err) {
      if (err instanceof InvalidInputError) {
        findings.push(...err.findings);
        continue;
      }
      throw err;
    }
    const src = () => {
      cached ??= parseYamlSource(text, file);
      return cached;
    };
    const obj = data && typeof data === 'object' && !Array.isArray(data) ? (data as Record<string, unknown>) : {};
    const kind = 'recipe' in obj ? 'recipe' : 'pack' in obj ? 'pack' : undefined;
    if (!kind) {
      findings.push(at(src(), '', 'not a catalog file: expected a top-level "pack" or "recipe" key', 'kind'));
      continue;
    }
    const v = (kind === 'pack' ? validatePack : validateRecipe) as unknown as Validator;
    if (!v(data)) {
      findings.push(...ajvErrorsToFindings(v.errors as never, src()));
      continue; // cross-checks assume the shape is right
    }
    loaded.push({ file, kind, data, src });
  }

  // What methods exist: the sources under check (whole mode) or the shipped catalog plus the files under check.
  const packsLoaded = loaded.filter((l) => l.kind === 'pack');
  const known = new Map<string, Known>();
  const curatedPacks = new Set<string>();
  let base: ReturnType<typeof loadCatalog> | undefined;
  if (!whole) {
    try {
      base = loadCatalog({ dir: dir === CATALOG_DIR ? undefined : dir });
      for (const n of base.methodNames()) {
        const m = base.method(n)!;
        known.set(n.toLowerCase(), { name: m.name, pack: m.pack, curated: m.curated, entry: m });
      }
      for (const p of base.packs) curatedPacks.add(p.name);
    } catch {
      // the shipped catalog itself is broken; the files under check still get their own checks
    }
  }
  for (const l of packsLoaded) {
    const p = l.data as CatalogPack;
    const curated = p.pack !== 'reference';
    if (curated) curatedPacks.add(p.pack);
    for (const m of p.methods) {
      const key = m.name.toLowerCase();
      const prev = known.get(key);
      if (!prev || curated) {
        const entry = prev?.entry && curated ? { ...prev.entry, ...m } : m;
        known.set(key, {
          name: m.name,
          pack: curated ? p.pack : prev?.pack,
          curated: curated || !!prev?.curated,
          entry,
        });
      } else if (prev.curated && !prev.entry?.params) prev.entry = { ...m, ...prev.entry };
    }
  }

  // Reference rows: the shards under check, else (paths mode) the base catalog's shard of the method.
  const refRows = new Map<string, MethodEntry>();
  for (const l of packsLoaded) {
    const p = l.data as CatalogPack;
    if (p.pack === 'reference') for (const m of p.methods) refRows.set(m.name.toLowerCase(), m);
  }
  let baseRef: { dir: string; rows: Record<string, ReferenceRow> } | undefined;
  const shardCache = new Map<string, Map<string, MethodEntry>>();
  const refRow = (key: string): MethodEntry | undefined => {
    const hit = refRows.get(key);
    if (hit || whole || !base) return hit;
    try {
      baseRef ??= { dir: base.dir, rows: loadIndex(base.dir).index.reference };
      const row = baseRef.rows[key];
      if (!row) return undefined;
      let shard = shardCache.get(row[1]);
      if (!shard) {
        shard = new Map(readShard(baseRef.dir, row[1]).methods.map((m) => [m.name.toLowerCase(), m]));
        shardCache.set(row[1], shard);
      }
      return shard.get(key);
    } catch {
      return undefined; // the base catalog is broken; its own validation reports that
    }
  };

  // Every documented name (lower case → documented case): the shards under check, plus (paths mode) the base
  // catalog's reference; a whole directory without shards is checked against the shipped reference.
  let refNames: Map<string, string> | undefined;
  const referenceNames = (): Map<string, string> => {
    if (refNames) return refNames;
    refNames = new Map([...refRows].map(([k, m]) => [k, m.name]));
    const from = !whole ? base?.dir : refNames.size === 0 ? CATALOG_DIR : undefined;
    if (from) {
      try {
        for (const [k, row] of Object.entries(loadIndex(from).index.reference))
          if (!refNames.has(k)) refNames.set(k, row[0]);
      } catch {
        // the base catalog is broken; its own validation reports that
      }
    }
    return refNames;
  };

  // Per-pack checks.
  const synonymOwner = new Map<string, string>(); // name part → pack
  const seenCurated = new Map<string, string>(); // method → file
  const seenReference = new Map<string, string>();
  const vocabOwner = new Map<string, string>(); // term → pack
  let methods = 0;
  for (const l of packsLoaded) {
    const p = l.data as CatalogPack;
    const curated = p.pack !== 'reference';
    const stemName = basename(l.file).replace(/\.(ya?ml|json)$/, '');
    if (curated && stemName !== p.pack) {
      findings.push(at(l.src(), '/pack', `pack "${p.pack}" must live in a file named ${p.pack}.yaml`, 'pack-name'));
    }
    if (curated && !p.vocabulary) {
      findings.push(at(l.src(), '/pack', 'a curated pack needs a routing vocabulary (en + ru)', 'curated-entry'));
    }
    const usedScopes = new Set<string>();
    const inFile = new Set<string>();
    p.methods.forEach((m, i) => {
      methods++;
      const ptr = `/methods/${i}`;
      const key = m.name.toLowerCase();
      if (inFile.has(key))
        findings.push(at(l.src(), `${ptr}/name`, `duplicate method ${m.name} in this file`, 'duplicate-method'));
      inFile.add(key);
      const seen = curated ? seenCurated : seenReference;
      const other = seen.get(key);
      if (other && other !== l.file) {
        findings.push(at(l.src(), `${ptr}/name`, `method ${m.name} is also listed in ${other}`, 'duplicate-method'));
      }
      seen.set(key, l.file);
      if (m.scope !== 'basic') usedScopes.add(m.scope);
      if (curated) {
        findings.push(...checkCuratedEntry(l, m, ptr, p, known));
        findings.push(...checkReferenceName(l.src(), ptr, m, referenceNames()));
        const ref = refRow(key);
        findings.push(...checkRiskFloor(l.src(), ptr, m, ref));
        if (m.effects?.length) findings.push(...checkEffects(l.src(), ptr, m, m.params ?? ref?.params));
      } else if (m.effects?.length) findings.push(...checkEffects(l.src(), ptr, m, m.params));
    });
    if (curated) {
      for (const s of p.scopes) {
        if (!usedScopes.has(s)) {
          findings.push(
            warn(
              l.src(),
              '/scopes',
              `scope "${s}" is not needed by any method of the pack (least privilege)`,
              'scope-unused',
            ),
          );
        }
      }
      const vocab = [...(p.vocabulary?.en ?? []), ...(p.vocabulary?.ru ?? [])];
      vocab.forEach((term, i) => {
        const t = term.toLowerCase();
        const owner = vocabOwner.get(t);
        const lang = i < (p.vocabulary?.en.length ?? 0) ? 'en' : 'ru';
        const idx = lang === 'en' ? i : i - (p.vocabulary?.en.length ?? 0);
        if (owner && owner !== p.pack) {
          findings.push(
            at(
              l.src(),
              `/vocabulary/${lang}/${idx}`,
              `vocabulary term "${term}" also routes to pack ${owner}`,
              'vocabulary-duplicate',
            ),
          );
        } else if (owner === p.pack) {
          findings.push(
            at(
              l.src(),
              `/vocabulary/${lang}/${idx}`,
              `vocabulary term "${term}" is listed twice`,
              'vocabulary-duplicate',
            ),
          );
        }
        vocabOwner.set(t, p.pack);
      });
      for (const part of Object.keys(p.synonyms ?? {})) {
        const owner = synonymOwner.get(part);
        if (owner && owner !== p.pack) {
          findings.push(
            at(
              l.src(),
              `/synonyms/${part}`,
              `synonyms of "${part}" are also listed by pack ${owner}`,
              'synonym-duplicate',
            ),
          );
        }
        synonymOwner.set(part, p.pack);
      }
    }
  }

  // Recipes.
  const recipeNames = new Set<string>(base?.recipes.map((r) => r.recipe) ?? []);
  for (const l of loaded) if (l.kind === 'recipe') recipeNames.add((l.data as Recipe).recipe);
  let recipes = 0;
  for (const l of loaded.filter((x) => x.kind === 'recipe')) {
    recipes++;
    findings.push(...checkRecipe(l, known, curatedPacks, recipeNames));
  }

  // Compiled index freshness (whole catalog only).
  if (whole && findings.every((f) => f.severity !== 'error')) {
    const indexFile = join(dir, 'index.json');
    let fresh = false;
    if (existsSync(indexFile)) {
      try {
        fresh = (JSON.parse(readFileSync(indexFile, 'utf8')) as { hash?: string }).hash === sourceHash(dir);
      } catch {
        fresh = false;
      }
    }
    if (!fresh) {
      findings.push({
        file: display(indexFile),
        line: 1,
        col: 1,
        field: '/hash',
        message: 'compiled index is missing or older than the catalog sources; run `b24flow catalog build`',
        rule: 'stale-index',
        severity: 'error',
      });
    }
  }
  return { findings, files: files.length, methods, recipes };
}

const at = errorAt;
const warn = warnAt;

const LIST_ACTION = /\.(list|getlist)$/i;

function checkCuratedEntry(
  l: LoadedFile,
  m: MethodEntry,
  ptr: string,
  p: CatalogPack,
  known: Map<string, Known>,
): Finding[] {
  const out: Finding[] = [];
  const src = l.src();
  for (const k of ['auth', 'http', 'entity', 'summary', 'doc', 'params', 'batchable', 'deprecated'] as const) {
    if (m[k] === undefined) out.push(at(src, ptr, `curated method ${m.name} needs "${k}"`, 'curated-entry'));
  }
  out.push(...checkReconcile(src, m, ptr, known));
  if (m.risk !== 'read' && !m.done) {
    out.push(
      at(
        src,
        ptr,
        `${m.risk} method ${m.name} needs "done" phrases (en one/other, ru one/few/many/other)`,
        'done-phrases',
      ),
    );
  }
  if (m.canary && m.risk !== 'write') {
    out.push(
      at(
        src,
        `${ptr}/canary`,
        `${m.risk} method ${m.name} cannot be a canary safe create (only write methods can)`,
        'canary-risk',
      ),
    );
  }
  if (m.risk === 'read' && m.risk_fields?.length) {
    out.push(warn(src, `${ptr}/risk_fields`, `read method ${m.name} lists risk fields`, 'curated-entry'));
  }
  if (m.done) {
    for (const [lang, forms] of Object.entries(m.done)) {
      for (const [form, text] of Object.entries(forms as Record<string, string>)) {
        if (!text.includes('{n}'))
          out.push(at(src, `${ptr}/done/${lang}/${form}`, 'phrase must contain {n}', 'done-phrases'));
      }
    }
  }
  if (m.scope !== 'basic' && !p.scopes.includes(m.scope)) {
    out.push(
      at(src, `${ptr}/scope`, `scope "${m.scope}" of ${m.name} is missing from the pack's scopes`, 'scope-missing'),
    );
  }
  const pages = (m.params ?? []).some((x) => /^(start|filter|order)$/i.test(x.name));
  if (LIST_ACTION.test(m.name) && pages && !m.list) {
    out.push(
      warn(
        src,
        ptr,
        `list method ${m.name} has no "list" semantics (wrapper, id_field, start_minus_one)`,
        'list-semantics',
      ),
    );
  }
  if (m.successor && !known.has(m.successor.toLowerCase())) {
    out.push(warn(src, `${ptr}/successor`, `successor ${m.successor} is not in the catalog`, 'unknown-successor'));
  }
  return out;
}

const EXPR = /\$\{\{([\s\S]*?)\}\}/g;

function strings(v: unknown, path: string, out: Array<[string, string]>): void {
  if (typeof v === 'string') out.push([path, v]);
  else if (Array.isArray(v)) {
    for (const [i, x] of v.entries()) strings(x, `${path}/${i}`, out);
  } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) strings(x, `${path}/${k}`, out);
}

function checkRecipe(
  l: LoadedFile,
  known: Map<string, Known>,
  curatedPacks: Set<string>,
  recipeNames: Set<string>,
): Finding[] {
  const r = l.data as Recipe;
  const src = l.src();
  const out: Finding[] = [];
  const stemName = basename(l.file).replace(/\.ya?ml$/, '');
  if (stemName !== r.recipe)
    out.push(at(src, '/recipe', `recipe "${r.recipe}" must live in ${r.recipe}.yaml`, 'pack-name'));
  const packs = new Set([r.pack, ...(r.packs ?? [])]);
  for (const pk of packs) {
    if (!curatedPacks.has(pk))
      out.push(at(src, r.packs?.includes(pk) ? '/packs' : '/pack', `unknown pack "${pk}"`, 'unknown-pack'));
  }
  const inputs = new Set(Object.keys(r.inputs ?? {}));
  const ids = new Set<string>();
  r.steps.forEach((s, i) => {
    const ptr = `/steps/${i}`;
    if (ids.has(s.id)) out.push(at(src, `${ptr}/id`, `duplicate step id "${s.id}"`, 'duplicate-step'));
    for (const [j, n] of (s.needs ?? []).entries()) {
      if (!ids.has(n))
        out.push(at(src, `${ptr}/needs/${j}`, `needs "${n}", which is not an earlier step`, 'unknown-need'));
    }
    if ((s.method === undefined) === (s.use === undefined)) {
      out.push(at(src, ptr, 'a step has exactly one of "method" or "use"', 'step-kind'));
    }
    if (s.use !== undefined && !recipeNames.has(s.use)) {
      out.push(at(src, `${ptr}/use`, `unknown recipe "${s.use}"`, 'unknown-recipe'));
    }
    if (s.method !== undefined) {
      const k = known.get(s.method.toLowerCase());
      if (!k) {
        const near = closest(
          s.method,
          [...known.values()].map((x) => x.name),
        );
        const hint = near ? ` (did you mean ${near}?)` : '';
        out.push(at(src, `${ptr}/method`, `unknown method ${s.method}${hint}`, 'unknown-method'));
      } else {
        if (k.name !== s.method) {
          out.push(warn(src, `${ptr}/method`, `method is documented as ${k.name}`, 'method-case'));
        }
        if (!k.curated) {
          out.push(
            warn(src, `${ptr}/method`, `${k.name} is only in the reference set (heuristic risk)`, 'uncurated-method'),
          );
        } else if (k.pack && !packs.has(k.pack)) {
          out.push(at(src, `${ptr}/method`, `${k.name} belongs to pack ${k.pack}; add it to "packs"`, 'pack-mismatch'));
        }
        const entry = k.entry;
        const params = s.params;
        if (entry?.params && params && typeof params === 'object' && !Array.isArray(params)) {
          for (const p of entry.params) {
            if (p.required === true && !(p.name in (params as object))) {
              out.push(at(src, `${ptr}/params`, `${k.name} requires param "${p.name}"`, 'missing-param'));
            }
          }
        }
      }
    }
    const strs: Array<[string, string]> = [];
    strings(s, ptr, strs);
    for (const [path, text] of strs) {
      for (const m of text.matchAll(EXPR)) {
        const expr = m[1] ?? '';
        for (const ref of expr.matchAll(/\binputs\.([A-Za-z_]\w*)/g)) {
          if (!inputs.has(ref[1]!)) out.push(at(src, path, `unknown input "${ref[1]}"`, 'unknown-input'));
        }
        for (const ref of expr.matchAll(/\bsteps\.([A-Za-z_]\w*)/g)) {
          if (!ids.has(ref[1]!) && ref[1] !== s.id) {
            out.push(at(src, path, `step "${ref[1]}" is not an earlier step`, 'unknown-step-ref'));
          }
        }
      }
    }
    ids.add(s.id);
  });
  return out;
}

/** A create: `*.add`, `*.create` (the methods whose repeat makes a second record). */
const CREATE_ACTION = /\.(add|create)$/i;

/**
 * Rule `reconcile`: every curated create declares how a lost or repeated create is found on the portal
 * (schemas/catalog-pack.schema.json `Reconcile`); `header` needs a REST 3.0 method, `lookup` a known read.
 */
function checkReconcile(src: YamlSource, m: MethodEntry, ptr: string, known: Map<string, Known>) {
  const out: Finding[] = [];
  if (m.risk === 'read' || !CREATE_ACTION.test(m.name)) return out;
  const r = m.reconcile;
  if (!r)
    out.push(
      at(
        src,
        ptr,
        `create method ${m.name} needs "reconcile" (by: header | origin_id | lookup | none): how a lost answer is reconciled`,
        'reconcile',
      ),
    );
  else if (r.by === 'header' && !m.rest_v3)
    out.push(at(src, `${ptr}/reconcile/by`, `${m.name} is not a REST 3.0 method: "header" cannot apply`, 'reconcile'));
  else if (r.by === 'lookup' && r.lookup) {
    const read = known.get(r.lookup.method.toLowerCase());
    if (read?.entry?.risk !== 'read')
      out.push(at(src, `${ptr}/reconcile/lookup/method`, `${r.lookup.method} is not a known read method`, 'reconcile'));
  }
  return out;
}
