/**
 * Shapes of JSON values for the sandbox conformance suite: a shape keeps the keys and JSON types of a value, not its
 * values. Scalars become their type name (`"string"`, `"number"`, `"boolean"`, `"null"`), objects map each key to
 * the shape of its value, arrays keep the shape of their first element (`[]` when empty). Shared by the extractor
 * (scripts/conformance/extract.ts) and the replay (tests/sandbox/conformance.test.ts, scripts/conformance/run.ts).
 */

/**
 * A JSON shape: a type name (`string`, `""` for the empty string, `number`, `boolean`, `null`), an object of shapes
 * or an array holding at most the first element's shape.
 */
export type Shape = string | Shape[] | { [key: string]: Shape };

/** The shape of a JSON value. */
export function shapeOf(v: unknown): Shape {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length ? [shapeOf(v[0])] : [];
  if (typeof v === 'object') {
    // an id-keyed map (`{"431": {...}, "433": {...}}`) has data for keys: keep the first value's shape under `*`
    const keys = Object.keys(v as object);
    if (keys.length && keys.every((k) => /^\d+$/.test(k))) return { '*': shapeOf((v as any)[keys[0]!]) };
    const o: Record<string, Shape> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) o[k] = shapeOf(x);
    return o;
  }
  if (v === '') return '""';
  return typeof v;
}

/** One difference between the documented shape and the sandbox's answer: a key path and what differs. */
export interface ShapeDiff {
  path: string;
  doc: string;
  got: string;
}

function kind(s: Shape): string {
  if (s === '""') return 'string';
  if (typeof s === 'string') return s;
  return Array.isArray(s) ? 'array' : 'object';
}

/**
 * Compares a documented shape with an actual value: every key of the docs must be present with the same JSON
 * type. Documented `null` accepts any type (the example just left the value unset), and a documented non-empty
 * scalar accepts `null` (the example shows a set value; the seeded record leaves it unset), but a documented empty
 * string `""` needs a string: that is how the portal answers an unset value there. An empty documented array or
 * object (PHP serialises empty maps as `[]`) accepts an empty or non-empty array/object; arrays compare their
 * first elements when both have one; an actual empty list cannot be compared deeper and is accepted; id-keyed maps
 * (`*`) compare their first values. Keys the
 * sandbox adds beyond the docs are not differences.
 */
export function compareShape(doc: Shape, actual: unknown, path = '', out: ShapeDiff[] = []): ShapeDiff[] {
  const got = shapeOf(actual);
  const dk = kind(doc);
  const gk = kind(got);
  if (dk === 'null') return out;
  if (gk === 'null' && doc !== '""' && (dk === 'string' || dk === 'number' || dk === 'boolean')) return out;
  const emptyDoc = (Array.isArray(doc) && doc.length === 0) || (dk === 'object' && !Object.keys(doc).length);
  if (emptyDoc && (gk === 'array' || gk === 'object')) return out;
  if (dk === 'object' && gk === 'array' && Array.isArray(actual) && actual.length === 0) return out;
  if (dk !== gk) {
    out.push({ path: path || '(root)', doc: dk, got: gk });
    return out;
  }
  if (Array.isArray(doc)) {
    if (doc.length && Array.isArray(actual) && actual.length) compareShape(doc[0]!, actual[0], `${path}[0]`, out);
    return out;
  }
  if (typeof doc === 'object') {
    const a = actual as Record<string, unknown>;
    if ('*' in doc && Object.keys(doc).length === 1) {
      const first = Object.values(a)[0];
      if (first !== undefined) compareShape(doc['*']!, first, `${path}.*`, out);
      return out;
    }
    for (const [k, s] of Object.entries(doc)) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in a)) out.push({ path: p, doc: kind(s), got: 'missing' });
      else compareShape(s, a[k], p, out);
    }
  }
  return out;
}

/** One replayable documented example. */
export interface ConformanceCase {
  /** stable id: `<method>#<n>` */
  id: string;
  method: string;
  /** REST 3.0 (`/rest/api/`) */
  v3: boolean;
  /** method family: the name without its verb (`crm.deal`, `tasks.task`, `user`) */
  family: string;
  /** page path relative to the docs root */
  docPage: string;
  /** the example authenticates with an OAuth token in the body (`auth`) rather than a webhook URL */
  oauth: boolean;
  /** request params of the example (`auth` removed) */
  params: unknown;
  /** documented success envelope shape: `result`, `time`, `total`/`next` where shown (the page's first answer) */
  expect: Record<string, Shape>;
  /** the page's other documented answers (variants of the same method): matching any one of them is a match */
  alternatives?: Record<string, Shape>[];
}
