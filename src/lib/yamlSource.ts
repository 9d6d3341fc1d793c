import { readFileSync } from 'node:fs';
import {
  type Document,
  isMap,
  isNode,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
} from 'yaml';
import { type Finding, InvalidInputError } from './failures.js';

/**
 * A YAML file parsed with source positions, so any error about a value can name `file:line:col`.
 *
 * Shape: `data` is the plain JS value; `locate(path)` maps a JSON pointer (`/steps/2/params/fields/TITLE`)
 * or a key array to the position of that value (or of the nearest existing ancestor).
 */
export interface YamlSource<T = unknown> {
  file: string;
  data: T;
  doc: Document;
  /** 1-based line/col of the node at `path`; falls back to the closest existing parent, then 1:1. */
  locate(path: string | ReadonlyArray<string | number>): { line: number; col: number };
  /** Position of the *key* of the map entry at `path` when it exists (better for "unknown property"). */
  locateKey(path: string | ReadonlyArray<string | number>): { line: number; col: number };
}

/** Largest YAML/JSON source b24flow parses (bytes): pipelines, recipes and catalog packs are far smaller. */
export const MAX_SOURCE_BYTES = 5 * 1024 * 1024;

/** Alias expansions allowed per document (the `yaml` package's guard against alias bombs). */
export const MAX_ALIAS_COUNT = 100;

/** The finding for a source over {@link MAX_SOURCE_BYTES}, refused before parsing. */
export function tooLarge(file: string, bytes: number): InvalidInputError {
  const message = `file is ${(bytes / 1024 / 1024).toFixed(1)} MB; sources are limited to ${MAX_SOURCE_BYTES / 1024 / 1024} MB`;
  return new InvalidInputError(`${file}: ${message}`, [
    { file, line: 1, col: 1, field: '', message, rule: 'load', severity: 'error' },
  ]);
}

/** Splits a JSON pointer (`/a/0/b~1c`) into its segments. */
export function pointerToPath(pointer: string): string[] {
  if (!pointer || pointer === '/') return [];
  return pointer
    .replace(/^\//, '')
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Parses YAML text keeping source positions.
 *
 * @param text YAML source
 * @param file name used in findings
 * @throws InvalidInputError (exit 2) with one finding per YAML syntax error, each at its line and column
 */
export function parseYamlSource<T = unknown>(text: string, file: string): YamlSource<T> {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_SOURCE_BYTES) throw tooLarge(file, bytes);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const findings: Finding[] = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return {
        file,
        line: pos.line,
        col: pos.col,
        field: '',
        message: `YAML syntax: ${e.message.split('\n')[0]}`,
        rule: 'yaml',
        severity: 'error',
      };
    });
    throw new InvalidInputError(`${file}: invalid YAML`, findings);
  }
  let data: T;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as T;
  } catch (err) {
    // an alias bomb (aliases of aliases that expand exponentially): name the first alias, refuse the file
    let offset = 0;
    visit(doc, {
      Alias(_, node) {
        offset = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    const pos = lineCounter.linePos(offset);
    const message = `YAML aliases expand too much (${err instanceof Error ? err.message : String(err)}); at most ${MAX_ALIAS_COUNT} alias expansions per file`;
    throw new InvalidInputError(`${file}: ${message}`, [
      { file, line: pos.line, col: pos.col, field: '', message, rule: 'yaml', severity: 'error' },
    ]);
  }

  const find = (path: string | ReadonlyArray<string | number>, wantKey: boolean) => {
    const segs = typeof path === 'string' ? pointerToPath(path) : path.map(String);
    let node: unknown = doc.contents;
    let best: { range?: [number, number, number] | null } | undefined = isNode(node) ? node : undefined;
    let keyNode: Node | undefined;
    for (const seg of segs) {
      keyNode = undefined;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
        if (!pair) break;
        keyNode = isNode(pair.key) ? pair.key : undefined;
        node = pair.value;
      } else if (isSeq(node)) {
        const item = node.items[Number(seg)];
        if (item === undefined) break;
        node = item;
      } else break;
      if (isNode(node) && node.range) best = node;
      else if (keyNode?.range) best = keyNode;
    }
    const target = wantKey && keyNode?.range ? keyNode : best;
    const offset = target?.range?.[0];
    if (offset === undefined) return { line: 1, col: 1 };
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
  };

  return {
    file,
    data,
    doc,
    locate: (path) => find(path, false),
    locateKey: (path) => find(path, true),
  };
}

/** Reads and parses a YAML file with positions. Throws like {@link parseYamlSource}; fs errors pass through. */
export function readYamlSource<T = unknown>(file: string): YamlSource<T> {
  return parseYamlSource<T>(readFileSync(file, 'utf8'), file);
}
