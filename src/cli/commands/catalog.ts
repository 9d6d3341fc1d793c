/**
 * `b24flow catalog`: validate, search and show the method catalog; list packs and their least-privilege scopes.
 *
 *   catalog validate [paths...]     schema + cross-checks; exit 2 on errors
 *   catalog search <words...>       ru/en search by name, summary, vocabulary
 *   catalog show <method>           one method (`--json`: name, scope, risk, auth, pack, params, ...)
 *   catalog packs                   the 12 packs (`--json`: [{name, title, methods, method_count, scopes}])
 *   catalog scopes --packs a,b      webhook scopes for a pack set
 *   catalog recipes                 recipes and their packs
 *   catalog build                   rebuild catalog/index.json after editing sources
 *
 * Heavy modules load inside the actions so that `catalog show` starts fast.
 */
import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/failures.js';
import { jsonText } from '../present/jsonOut.js';

/** A `--json` body without its final newline (`out` adds it). */
const jsonBody = (v: unknown): string => jsonText(v).trimEnd();

interface JsonOpt {
  json?: boolean;
  dir?: string;
}

const out = (s: string) => process.stdout.write(`${s}\n`);
const err = (s: string) => process.stderr.write(`${s}\n`);

async function catalogOf(opts: JsonOpt) {
  const { loadCatalog } = await import('../../catalog/index.js');
  const cat = loadCatalog({ dir: opts.dir });
  if (cat.stale) err('b24flow: note: catalog/index.json is out of date; run `b24flow catalog build` (loading sources)');
  return cat;
}

function splitList(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Registers `b24flow catalog` and its subcommands. */
export function register(program: Command): void {
  const catalog = program
    .command('catalog')
    .description('Inspect and validate the method catalog (packs, recipes, reference)');
  const dirOpt = ['--dir <dir>', 'catalog directory (default: the shipped catalog, env B24FLOW_CATALOG_DIR)'] as const;

  catalog
    .command('validate [paths...]')
    .description('Validate catalog files: JSON Schema + cross-checks (exit 2 on errors)')
    .option(...dirOpt)
    .option('--json', 'print the report as JSON on stdout')
    .action(async (paths: string[], opts: JsonOpt) => {
      const { validateCatalog } = await import('../../catalog/validate.js');
      const report = validateCatalog({ dir: opts.dir, paths });
      const errors = report.findings.filter((f) => f.severity === 'error');
      if (opts.json) {
        out(jsonBody({ ok: errors.length === 0, ...report }));
        if (errors.length) process.exitCode = 2;
        return;
      }
      const { formatFinding } = await import('../../lib/failures.js');
      for (const f of report.findings.filter((x) => x.severity === 'warning')) err(formatFinding(f));
      if (errors.length) {
        throw new InvalidInputError(`catalog: ${errors.length} error(s)`, errors);
      }
      out(
        `catalog ok: ${report.files} files, ${report.methods} method entries, ${report.recipes} recipes` +
          (report.findings.length ? `, ${report.findings.length} warning(s)` : ''),
      );
    });

  catalog
    .command('search <words...>')
    .description('Search methods by name, summary (en/ru) or pack vocabulary')
    .option('--packs <list>', 'only these packs (comma-separated)')
    .option('--limit <n>', 'at most n results', '20')
    .option(...dirOpt)
    .option('--json', 'JSON output')
    .action(async (words: string[], opts: JsonOpt & { packs?: string; limit: string }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1)
        throw new InvalidInputError(`--limit must be a positive integer, got "${opts.limit}"`);
      const cat = await catalogOf(opts);
      const packs = opts.packs ? splitList(opts.packs) : undefined;
      if (packs) cat.scopesFor(packs); // throws on an unknown pack name
      const hits = cat.search(words.join(' '), { packs, limit });
      if (opts.json) {
        out(
          jsonBody(
            hits.map((m) => ({
              name: m.name,
              scope: m.scope,
              risk: m.risk,
              pack: m.pack ?? null,
              curated: m.curated,
              summary: m.summary ?? null,
            })),
          ),
        );
        return;
      }
      if (hits.length === 0) {
        err(`no method matches "${words.join(' ')}"`);
        return;
      }
      const w = Math.max(...hits.map((m) => m.name.length));
      for (const m of hits) {
        out(`${m.name.padEnd(w)}  ${m.risk.padEnd(11)} ${(m.pack ?? 'reference').padEnd(11)} ${m.summary?.en ?? ''}`);
      }
    });

  catalog
    .command('show <method>')
    .description('Show one method: scope, risk, auth, params, list semantics, doc link')
    .option(...dirOpt)
    .option('--json', 'JSON output')
    .action(async (name: string, opts: JsonOpt) => {
      const cat = await catalogOf(opts);
      const m = cat.method(name);
      if (!m) {
        const near = cat.search(name.replace(/\./g, ' '), { limit: 5 }).map((x) => x.name);
        throw new InvalidInputError(
          `unknown method "${name}"${near.length ? ` (did you mean: ${near.join(', ')}?)` : ''}`,
        );
      }
      if (opts.json) {
        out(jsonBody({ ...m, pack: m.pack ?? null }));
        return;
      }
      const { renderMethod } = await import('../../catalog/render.js');
      out(renderMethod(m));
    });

  catalog
    .command('packs')
    .description('List the packs with their method counts and webhook scopes')
    .option(...dirOpt)
    .option('--json', 'JSON output')
    .action(async (opts: JsonOpt) => {
      const cat = await catalogOf(opts);
      if (opts.json) {
        out(
          jsonBody(
            cat.packs.map((p) => ({
              name: p.name,
              title: p.title,
              methods: p.methods.map((m) => m.name),
              methodCount: p.methods.length,
              scopes: p.scopes,
            })),
          ),
        );
        return;
      }
      for (const p of cat.packs) {
        out(
          `${p.name.padEnd(12)} ${String(p.methods.length).padStart(3)} methods  scopes: ${p.scopes.join(',') || '(none)'}  ${p.title.en}`,
        );
      }
      out(`reference: ${cat.referenceSize} documented methods`);
    });

  catalog
    .command('scopes')
    .description('Least-privilege webhook scopes for a set of packs')
    .option('--packs <list>', 'comma-separated packs', 'core')
    .option(...dirOpt)
    .option('--json', 'JSON output')
    .action(async (opts: JsonOpt & { packs: string }) => {
      const cat = await catalogOf(opts);
      const packs = splitList(opts.packs);
      if (packs.length === 0) throw new InvalidInputError('--packs needs at least one pack name');
      const scopes = cat.scopesFor(packs);
      if (opts.json) out(jsonBody({ packs, scopes }));
      else out(scopes.join(','));
    });

  catalog
    .command('recipes')
    .description('List recipes (parameterised step chains a pipeline can `use:`)')
    .option(...dirOpt)
    .option('--json', 'JSON output')
    .action(async (opts: JsonOpt) => {
      const cat = await catalogOf(opts);
      if (opts.json) {
        out(jsonBody(cat.recipes));
        return;
      }
      for (const r of cat.recipes) out(`${r.recipe.padEnd(28)} ${r.pack.padEnd(12)} ${r.title.en}`);
    });

  catalog
    .command('build')
    .description('Rebuild catalog/index.json (the compiled index read at start-up) from the sources')
    .option(...dirOpt)
    .action(async (opts: JsonOpt) => {
      const { validateCatalog } = await import('../../catalog/validate.js');
      const { buildIndex, defaultCatalogDir } = await import('../../catalog/store.js');
      const dir = opts.dir ?? defaultCatalogDir();
      const errors = validateCatalog({ dir }).findings.filter(
        (f) => f.severity === 'error' && f.rule !== 'stale-index',
      );
      if (errors.length) throw new InvalidInputError(`catalog: ${errors.length} error(s); index not rebuilt`, errors);
      const r = buildIndex(dir);
      err(`wrote ${r.file} (${r.curated} curated, ${r.reference} reference methods)`);
    });
}
