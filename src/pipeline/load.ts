/**
 * Loading pipelines: YAML files (with source positions) or planner JSON objects, validated against
 * `schemas/pipeline.schema.json`. Static checks beyond the schema live in `check/`.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import type { Pipeline, Step } from '../generated/pipeline.js';
import validateGenerated from '../generated/pipeline.validate.js';
import { type Finding, InvalidInputError } from '../lib/failures.js';
import { ajvErrorsToFindings } from '../lib/schemaValidate.js';
import { MAX_SOURCE_BYTES, parseYamlSource, tooLarge, type YamlSource } from '../lib/yamlSource.js';

export type { Pipeline, Step };

const validate = validateGenerated as unknown as { (data: unknown): boolean; errors?: ErrorObject[] | null };

/** A path inside the pipeline document, e.g. `['steps', 2, 'params', 'fields', 'TITLE']`. */
export type DocPath = ReadonlyArray<string | number>;

/**
 * A pipeline that passed the schema, with everything needed to report positions.
 * `file` is the display name used in findings; `path` the absolute file path (sub-pipelines resolve against it).
 */
export interface LoadedPipeline {
  file: string;
  path?: string;
  pipeline: Pipeline;
  /** Source text the positions refer to (the YAML file, or the pretty-printed JSON of a planner object). */
  text: string;
  source: YamlSource;
  /** sha256 of the canonical JSON of the pipeline (hex). */
  hash: string;
  /** 1-based position of the value at `path` (or its nearest existing parent). */
  locate(path: DocPath): { line: number; col: number };
  /** Position of the key at `path` (for unknown/missing properties). */
  locateKey(path: DocPath): { line: number; col: number };
  /**
   * Position of character `offset` inside the string scalar at `path`: exact for single-line plain and quoted
   * scalars, the scalar's start otherwise.
   */
  locateIn(path: DocPath, offset: number): { line: number; col: number };
}

/** Stable JSON: object keys sorted, so equal values hash equally. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (x && typeof x === 'object' && !Array.isArray(x)) {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(x).sort()) o[k] = (x as Record<string, unknown>)[k];
      return o;
    }
    return typeof x === 'bigint' ? x.toString() : x;
  });
}

/** sha256 hex of the canonical JSON of `v`. */
export function hashOf(v: unknown): string {
  return createHash('sha256').update(canonicalJson(v)).digest('hex');
}

function fromSource(src: YamlSource, text: string, path?: string): LoadedPipeline {
  const findings = schemaFindings(src);
  if (findings.length) throw new InvalidInputError(`${src.file}: invalid pipeline`, findings);
  const pipeline = src.data as Pipeline;
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const toPos = (off: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= off) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: off - lineStarts[lo]! + 1 };
  };
  return {
    file: src.file,
    path,
    pipeline,
    text,
    source: src,
    hash: hashOf(pipeline),
    locate: (p) => src.locate(p),
    locateKey: (p) => src.locateKey(p),
    locateIn: (p, offset) => {
      const node = src.doc.getIn(p as (string | number)[], true) as
        | { range?: [number, number, number]; type?: string }
        | undefined;
      const range = node?.range;
      if (!range) return src.locate(p);
      const raw = text.slice(range[0], range[1]);
      if (raw.includes('\n') || (node.type !== 'PLAIN' && node.type !== 'QUOTE_DOUBLE' && node.type !== 'QUOTE_SINGLE'))
        return toPos(range[0]);
      const quote = node.type === 'PLAIN' ? 0 : 1;
      // Escapes inside quoted scalars would shift columns; they are rare in expressions, accept the approximation.
      return toPos(range[0] + quote + offset);
    },
  };
}

/** Schema findings for a parsed document, with friendlier messages for the step kind. */
export function schemaFindings(src: YamlSource): Finding[] {
  const data = src.data;
  if (validate(data)) return [];
  const errors = (validate.errors ?? []).filter((e) => !/\/oneOf(\/|$)/.test(e.schemaPath));
  const findings = ajvErrorsToFindings(errors, src);
  const steps = (data as { steps?: unknown[] })?.steps;
  if (Array.isArray(steps)) {
    steps.forEach((s, i) => {
      if (!s || typeof s !== 'object') return;
      const kinds = ['method', 'use', 'pipeline'].filter((k) => k in s);
      if (kinds.length === 1) return;
      const pos = src.locate(['steps', i]);
      findings.push({
        file: src.file,
        line: pos.line,
        col: pos.col,
        field: `/steps/${i}`,
        message:
          kinds.length === 0
            ? 'a step needs one of `method`, `use` or `pipeline`'
            : `a step has exactly one of \`method\`, \`use\`, \`pipeline\` (found ${kinds.join(', ')})`,
        rule: 'schema',
        severity: 'error',
      });
    });
  }
  return findings.sort((a, b) => a.line - b.line || a.col - b.col);
}

/**
 * Reads, parses and schema-validates a pipeline file.
 * @param file path to a `.yaml`/`.yml` (or `.json`) pipeline
 * @throws InvalidInputError (exit 2) with findings at file:line:col for YAML or schema errors, or when unreadable
 */
export async function loadPipelineFile(file: string): Promise<LoadedPipeline> {
  let text: string;
  try {
    // refused before reading: a huge file is never parsed (nor held in memory)
    const { size } = await stat(file);
    if (size > MAX_SOURCE_BYTES) throw tooLarge(file, size);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw new InvalidInputError(`${file}: cannot read pipeline (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return loadPipelineText(text, file, resolve(file));
}

/** Parses and validates pipeline YAML text. Throws like {@link loadPipelineFile}. */
export function loadPipelineText(text: string, file: string, path?: string): LoadedPipeline {
  return fromSource(parseYamlSource(text, file), text, path);
}

/**
 * Validates a pipeline given as an object (the LLM planner's JSON). Positions in findings refer to the
 * pretty-printed JSON (2-space indentation) of the object, named `source`.
 * @throws InvalidInputError with schema findings
 */
export function loadPipelineObject(obj: unknown, source: string): LoadedPipeline {
  const text = JSON.stringify(obj, null, 2) ?? 'null';
  return fromSource(parseYamlSource(text, source), text);
}

/** Whether a step calls a method (vs `use` / `pipeline`). */
export function stepKind(s: Step): 'method' | 'use' | 'pipeline' {
  return s.method !== undefined ? 'method' : s.use !== undefined ? 'use' : 'pipeline';
}
