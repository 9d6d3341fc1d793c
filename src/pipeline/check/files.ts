/**
 * `check` over files: each file loaded, checked and compiled once; findings (load failures become findings of rule
 * `load`) and the static cost of its compiled program. What `b24flow check` prints and what the trigger service
 * checks at start-up.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Finding, InvalidInputError } from '../../lib/failures.js';
import type { CatalogView } from '../catalog.js';
import { compile } from '../compile/program.js';
import type { CostEstimate } from '../cost.js';
import { subPipelinePath } from '../expand.js';
import { type LoadedPipeline, loadPipelineFile, loadPipelineText } from '../load.js';
import { checkPipeline } from './index.js';
import type { PortalFacts } from './rule.js';

/** Options of {@link checkFiles}. */
export interface CheckFilesOptions {
  catalog: CatalogView;
  /** Portal facts (auth, scopes, plan) when a portal is configured. */
  portal?: PortalFacts;
  /** Assumed rows per list / foreach for the cost estimate (default 100). */
  items?: number;
}

/** The outcome for one file: its findings, and its cost when it loaded. */
export interface CheckedFile {
  file: string;
  findings: Finding[];
  /** Static cost of the compiled program; absent when the file did not load. */
  cost?: CostEstimate;
  /**
   * Absolute paths of every file the outcome depends on: the pipeline file and, recursively, the files of its
   * `pipeline:` steps (also those that do not exist: creating one changes the outcome). Recipes come from the catalog.
   */
  sources: string[];
}

/** Outcome of {@link checkFiles}. */
export interface CheckFilesResult {
  files: CheckedFile[];
  /** Every finding, file by file. */
  findings: Finding[];
  /** Number of findings with severity error. */
  errors: number;
}

/**
 * Loads, checks and compiles each file.
 * @throws only unexpected errors (a file that cannot be read or parsed is a `load` finding)
 */
export async function checkFiles(files: string[], opts: CheckFilesOptions): Promise<CheckFilesResult> {
  const out: CheckedFile[] = [];
  for (const file of files) {
    try {
      const p = await loadPipelineFile(file);
      // compiled once: the checker reuses its step graph, the cost is the program's
      const program = compile(p, opts.catalog, {
        ...(opts.portal?.plan ? { plan: opts.portal.plan } : {}),
        ...(opts.items !== undefined ? { defaultItems: opts.items } : {}),
      });
      const findings = checkPipeline(p, {
        catalog: opts.catalog,
        portal: opts.portal,
        program,
      });
      out.push({ file, findings, cost: program.cost, sources: sourceFiles(p) });
    } catch (err) {
      const sources = [resolve(file)];
      if (err instanceof InvalidInputError && err.findings.length)
        out.push({ file, findings: [...err.findings], sources });
      else if (err instanceof InvalidInputError)
        out.push({
          file,
          findings: [{ file, line: 1, col: 1, field: '', message: err.message, rule: 'load', severity: 'error' }],
          sources,
        });
      else throw err;
    }
  }
  const findings = out.flatMap((f) => f.findings);
  return { files: out, findings, errors: findings.filter((f) => f.severity === 'error').length };
}

/** The pipeline's own file and its `pipeline:` steps' files, recursively (absolute paths, each once). */
function sourceFiles(p: LoadedPipeline, seen = new Set<string>()): string[] {
  seen.add(resolve(p.path ?? p.file));
  for (const s of p.pipeline.steps) {
    if (!s.pipeline) continue;
    let path: string;
    try {
      path = resolve(subPipelinePath(p, s));
    } catch {
      continue; // outside the pipeline's folder: refused by the checker, never read
    }
    if (seen.has(path)) continue;
    seen.add(path);
    try {
      sourceFiles(loadPipelineText(readFileSync(path, 'utf8'), path, path), seen);
    } catch {
      // unreadable or invalid: the checker reports it; the path itself is already a source
    }
  }
  return [...seen];
}
