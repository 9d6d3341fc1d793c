/**
 * Static expansion of nested steps: the method steps a pipeline reaches through recipes (`use:`) and sub-pipelines
 * (`pipeline:`), recursively, without running anything. The run's confirmation pre-check and the checker's
 * "destructive step that can never be confirmed" rule look at these, so that a run refuses before its first write
 * instead of writing partially and refusing when it reaches a nested step.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve as resolvePath, sep } from 'node:path';
import { InvalidInputError } from '../lib/failures.js';
import type { CatalogView, Recipe } from './catalog.js';
import { type LoadedPipeline, loadPipelineObject, loadPipelineText, type Step } from './load.js';
import { type StepMethod, stepMethod } from './modes.js';

/** How deep recipes and sub-pipelines may nest (a cycle stops here too). */
export const MAX_NESTING = 8;

/** A recipe as a pipeline (inputs typed like pipeline inputs), as `use:` runs it. */
export function recipePipeline(r: Recipe): LoadedPipeline {
  const typeMap: Record<string, string> = {
    integer: 'int',
    number: 'double',
    boolean: 'bool',
    object: 'map',
    array: 'list',
  };
  const inputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.inputs ?? {}))
    inputs[k] = {
      type: typeMap[v.type] ?? v.type,
      ...(v.default !== undefined ? { default: v.default } : {}),
      ...(v.required ? { required: true } : {}),
    };
  return loadPipelineObject(
    {
      name: r.recipe.toLowerCase().replace(/[^a-z0-9_-]/g, '-'),
      packs: r.packs ?? [r.pack],
      inputs,
      steps: r.steps,
      ...(r.outputs ? { outputs: r.outputs } : {}),
    },
    `recipe ${r.recipe}`,
  );
}

/** True when `path` lies strictly inside the folder `dir` (both absolute). */
function inside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** The real path of an existing file or folder, else undefined (a missing file is reported as not found). */
function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Absolute path of a `pipeline:` step's file: relative to the calling pipeline's file (else the cwd) and confined
 * to that pipeline's folder tree. Absolute paths (`/etc/passwd`, `C:\x`), paths that climb out (`../.env`) and
 * paths that leave the folder through a symlink (the real paths are compared, the folder's own real path too) are
 * refused before any file is read, so a pipeline can never make b24flow read (and echo in errors) a file beside it.
 * @throws InvalidInputError naming the step and the path
 */
export function subPipelinePath(p: LoadedPipeline, s: Step): string {
  const ref = s.pipeline!;
  const base = p.path ? dirname(p.path) : process.cwd();
  const refuse = (why: string) =>
    new InvalidInputError(
      `step "${s.id}": sub-pipeline "${ref}" ${why}; a sub-pipeline must be a relative path inside the folder of ` +
        'the pipeline that calls it',
    );
  if (isAbsolute(ref) || /^[A-Za-z]:|^[\\/]/.test(ref)) throw refuse('is an absolute path');
  const path = resolvePath(base, ref);
  if (!inside(base, path)) throw refuse("is outside the pipeline's folder");
  const real = realPath(path);
  if (real !== undefined && !inside(realPath(base) ?? base, real))
    throw refuse("leads outside the pipeline's folder (symlink)");
  return path;
}

/** A method step reached from a pipeline, directly or through recipes and sub-pipelines. */
export interface ExpandedStep {
  /** Id as the run journals it: `outer.inner` for nested steps. */
  id: string;
  step: Step;
  /** Effective catalog entry (undefined for unknown methods). */
  method?: StepMethod;
  /** Index of the top-level step it belongs to (for positions in findings). */
  top: number;
  /** Nesting: 0 for top-level steps. */
  depth: number;
  /** `use:`/`pipeline:` chain that leads to it, e.g. `["recipe deal-stage-task"]`. */
  via: string[];
}

/**
 * Every method step of `p`, with the steps of its recipes and sub-pipelines expanded in place (recursively, up to
 * {@link MAX_NESTING} levels). Unknown recipes and unreadable or invalid sub-pipeline files are skipped: the checker
 * reports them, and a run fails on them before it reaches them.
 */
export function expandSteps(p: LoadedPipeline, catalog: CatalogView): ExpandedStep[] {
  const out: ExpandedStep[] = [];
  const walk = (lp: LoadedPipeline, prefix: string, top: number | undefined, depth: number, via: string[]) => {
    lp.pipeline.steps.forEach((s, i) => {
      const t = top ?? i;
      if (s.method) {
        out.push({ id: prefix + s.id, step: s, method: stepMethod(s, catalog), top: t, depth, via });
        return;
      }
      if (depth >= MAX_NESTING) return;
      let sub: LoadedPipeline | undefined;
      let label: string;
      try {
        if (s.use) {
          label = `recipe ${s.use}`;
          const r = catalog.recipe?.(s.use);
          sub = r ? recipePipeline(r) : undefined;
        } else {
          label = `pipeline ${s.pipeline}`;
          const path = subPipelinePath(lp, s);
          sub = loadPipelineText(readFileSync(path, 'utf8'), s.pipeline!, path);
        }
      } catch {
        sub = undefined;
        label = '';
      }
      if (sub) walk(sub, `${prefix}${s.id}.`, t, depth + 1, [...via, label]);
    });
  };
  walk(p, '', undefined, 0, []);
  return out;
}
