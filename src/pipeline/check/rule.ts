/**
 * The checker's building block: a rule reads the parsed pipeline (with positions), the catalog and the portal facts,
 * and returns findings. One rule per file in `rules/`; adding a rule never touches the others.
 */
import type { Finding } from '../../lib/failures.js';
import type { CatalogView, MethodInfo } from '../catalog.js';
import type { Program } from '../compile/program.js';
import type { StepGraph } from '../graph.js';
import type { DocPath, LoadedPipeline, Step } from '../load.js';

/** What the portal side tells the checker, when a portal is configured. */
export interface PortalFacts {
  /** How b24flow authenticates: an incoming webhook or an OAuth application. */
  auth: 'webhook' | 'oauth';
  /** Scopes granted (from the `scope` method), when known. */
  scopes?: string[];
  /** Portal plan for the cost estimate: standard 2 req/s, enterprise 5 req/s. */
  plan?: 'standard' | 'enterprise' | 'unlimited';
}

/** Input of `checkPipeline`. */
export interface CheckContext {
  catalog: CatalogView;
  portal?: PortalFacts;
  /** The compiled program of the pipeline, when the caller compiled it (its step graph is reused). */
  program?: Program;
}

/** Everything a rule may read, plus a helper that builds findings at a document path. */
export interface RuleContext extends CheckContext {
  p: LoadedPipeline;
  graph: StepGraph;
  /** Catalog entry of a method step (undefined for unknown methods and use/pipeline steps). */
  methodOf(step: Step): MethodInfo | undefined;
  /** A finding at the value (or key, with `key: true`) at `path`; `offset` = character inside a string scalar. */
  at(
    path: DocPath,
    message: string,
    opts?: { key?: boolean; offset?: number; severity?: 'error' | 'warning' | 'info' },
  ): Omit<Finding, 'rule'>;
}

/** A checker rule. `name` appears in brackets after each finding (`[unknown-method]`). */
export interface Rule {
  name: string;
  description: string;
  check(ctx: RuleContext): Omit<Finding, 'rule'>[];
}
