/**
 * PHP bracket form-encoding, as Bitrix24 parses it (`parse_str` semantics), used for `batch` sub-queries
 * (`cmd[key] = "method?query"`). Source: settings/how-to-call-rest-api/data-encoding.md, batch.md.
 *
 * Encoding rules (what a PHP server reconstructs):
 * - nested objects: `fields[TITLE]=x`, `fields[PHONE][0][VALUE]=1`;
 * - arrays: always indexed (`select[0]=ID&select[1]=TITLE`) so arrays of objects keep their shape and order;
 * - `null` and empty arrays/objects: `key=` (an empty string; Bitrix clears the field with it);
 * - booleans: `true` → `Y`, `false` → `N` by default (what legacy CRM flags expect), or `1`/`0` with `booleans: '10'`;
 * - `Date` → ISO-8601;
 * - {@link BatchRef} (a `$result[...]` reference): written literally so the server substitutes it.
 */

/** A `$result[cmd][path...]` reference to an earlier command's result inside one batch. */
export class BatchRef {
  constructor(
    /** Key of the command whose result is referenced. */
    readonly key: string,
    /** Path inside that result (e.g. `[49, 'ID']`, `['items', 49, 'id']`). */
    readonly path: readonly (string | number)[],
  ) {}
  /** `$result[key][p1][p2]` */
  toString(): string {
    return `$result[${this.key}]${this.path.map((p) => `[${p}]`).join('')}`;
  }
  toJSON(): string {
    return this.toString();
  }
}

/** Options of {@link encodeParams}. */
export interface EncodeOptions {
  /** How booleans are written: `YN` (default) or `10`. */
  booleans?: 'YN' | '10';
}

function encSeg(s: string): string {
  // keep the characters Bitrix filter keys use readable but safe: encode everything except unreserved
  return encodeURIComponent(s);
}

/**
 * Encodes params as a PHP query string.
 *
 * @example encodeParams({ filter: { '>ID': 5 }, select: ['ID'] }) → `filter[%3EID]=5&select[0]=ID`
 */
export function encodeParams(params: Record<string, unknown> | unknown[], opts: EncodeOptions = {}): string {
  const out: string[] = [];
  const yes = opts.booleans === '10' ? '1' : 'Y';
  const no = opts.booleans === '10' ? '0' : 'N';
  const walk = (prefix: string, v: unknown): void => {
    if (v instanceof BatchRef) {
      out.push(`${prefix}=${v.toString()}`);
      return;
    }
    if (v === null || v === undefined) {
      if (v === null) out.push(`${prefix}=`);
      return;
    }
    if (typeof v === 'boolean') {
      out.push(`${prefix}=${v ? yes : no}`);
      return;
    }
    if (v instanceof Date) {
      out.push(`${prefix}=${encodeURIComponent(v.toISOString())}`);
      return;
    }
    if (Array.isArray(v)) {
      if (v.length === 0) {
        out.push(`${prefix}=`);
        return;
      }
      for (let i = 0; i < v.length; i++) walk(`${prefix}[${i}]`, v[i]);
      return;
    }
    if (typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>);
      if (entries.length === 0) {
        out.push(`${prefix}=`);
        return;
      }
      for (const [k, item] of entries) walk(`${prefix}[${encSeg(k)}]`, item);
      return;
    }
    out.push(`${prefix}=${encodeURIComponent(String(v))}`);
  };
  if (Array.isArray(params)) for (let i = 0; i < params.length; i++) walk(String(i), params[i]);
  else for (const [k, v] of Object.entries(params)) walk(encSeg(k), v);
  return out.join('&');
}

/**
 * Decodes a PHP query string into nested values (`parse_str` semantics: `a[]` appends, `a[0]` indexes, last scalar
 * wins). Used by tests and by the client to read back a batch command.
 */
export function decodeParams(qs: string): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  if (!qs) return root;
  for (const pair of qs.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const rawKey = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    const m = /^([^[]+)(.*)$/.exec(rawKey);
    if (!m) continue;
    const segs: string[] = [m[1]!];
    for (const s of m[2]!.matchAll(/\[([^\]]*)\]/g)) segs.push(s[1]!);
    let cur: any = root;
    for (let i = 0; i < segs.length; i++) {
      let seg = segs[i]!;
      const last = i === segs.length - 1;
      if (seg === '') seg = String(Array.isArray(cur) ? cur.length : Object.keys(cur).length);
      if (last) {
        cur[seg] = value;
      } else {
        if (cur[seg] === null || typeof cur[seg] !== 'object') cur[seg] = {};
        cur = cur[seg];
      }
    }
  }
  return root;
}
