/**
 * Request parameter decoding with PHP semantics (`parse_str`): `fields[PHONE][0][VALUE]=1` builds nested maps,
 * `select[]=ID` appends, duplicate scalar keys → last wins. Bodies: JSON, urlencoded, multipart/form-data.
 * Source: settings/how-to-call-rest-api/data-encoding.md (rest-protocol.md §1.2).
 */

export type Params = Record<string, any>;

/** Segments that would reach Object.prototype through bracket keys (`__proto__[x]=1`). */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

function setPath(root: Params, key: string, value: unknown): void {
  const open = key.indexOf('[');
  let head = open > 0 ? key.slice(0, open) : key;
  if (open === 0) head = key; // "[x]=..." is taken literally, as PHP does
  const parts: string[] = [];
  if (open > 0) {
    const re = /\[([^\]]*)\]/gy;
    re.lastIndex = open;
    let m: RegExpExecArray | null = re.exec(key);
    while (m) {
      parts.push(m[1]!);
      if (re.lastIndex >= key.length) break;
      m = re.exec(key);
    }
    if (parts.length === 0) head = key;
  }
  if (FORBIDDEN.has(head) || parts.some((x) => FORBIDDEN.has(x))) return;
  if (parts.length === 0) {
    root[head] = value;
    return;
  }
  let cur: any = root;
  let k: string = head;
  for (const p of parts) {
    let next = cur[k];
    if (next === null || typeof next !== 'object') {
      next = p === '' ? [] : {};
      cur[k] = next;
    }
    if (p === '') {
      if (Array.isArray(next)) k = String(next.length);
      else k = String(nextIndex(next));
    } else if (Array.isArray(next) && !/^\d+$/.test(p)) {
      const obj: Record<string, unknown> = { ...next };
      cur[k] = obj;
      next = obj;
      k = p;
    } else k = p;
    cur = next;
  }
  if (Array.isArray(cur)) cur[Number(k)] = value;
  else cur[k] = value;
}

function nextIndex(obj: Record<string, unknown>): number {
  let max = -1;
  for (const key of Object.keys(obj)) if (/^\d+$/.test(key)) max = Math.max(max, Number(key));
  return max + 1;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Parses a query string / urlencoded body into nested params (PHP bracket semantics). */
export function parseQuery(qs: string, into: Params = {}): Params {
  if (!qs) return into;
  for (const pair of qs.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const k = decode(eq < 0 ? pair : pair.slice(0, eq));
    const v = eq < 0 ? '' : decode(pair.slice(eq + 1));
    if (k) setPath(into, k, v);
  }
  return into;
}

/** Parses a multipart/form-data body (fields only; files become `{name, size, type}` descriptors). */
export function parseMultipart(body: Buffer, contentType: string, into: Params = {}): Params {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!m) return into;
  const boundary = Buffer.from('--' + (m[1] ?? m[2]!));
  let pos = body.indexOf(boundary);
  while (pos >= 0) {
    const start = pos + boundary.length;
    if (body[start] === 45 && body[start + 1] === 45) break; // "--" terminator
    const headEnd = body.indexOf('\r\n\r\n', start);
    if (headEnd < 0) break;
    const head = body.subarray(start, headEnd).toString('utf8');
    const next = body.indexOf(boundary, headEnd + 4);
    if (next < 0) break;
    const content = body.subarray(headEnd + 4, next - 2);
    const name = /name="([^"]*)"/i.exec(head)?.[1];
    const filename = /filename="([^"]*)"/i.exec(head)?.[1];
    if (name !== undefined) {
      if (filename !== undefined) {
        setPath(into, name, { name: filename, size: content.length, content: content.toString('base64') });
      } else setPath(into, name, content.toString('utf8'));
    }
    pos = next;
  }
  return into;
}

/** Encodes nested data as a PHP-bracketed urlencoded string (used for outgoing event POSTs). */
export function buildQuery(data: unknown, prefix = ''): string {
  const out: string[] = [];
  const walk = (v: unknown, key: string) => {
    if (v === null || v === undefined) {
      out.push(encodeURIComponent(key) + '=');
    } else if (Array.isArray(v)) {
      if (v.length === 0) out.push(encodeURIComponent(key) + '=');
      v.forEach((x, i) => {
        walk(x, `${key}[${i}]`);
      });
    } else if (typeof v === 'object') {
      const entries = Object.entries(v as object);
      if (entries.length === 0) out.push(encodeURIComponent(key) + '=');
      for (const [k, x] of entries) walk(x, key ? `${key}[${k}]` : k);
    } else if (typeof v === 'boolean') {
      out.push(encodeURIComponent(key) + '=' + (v ? '1' : '0'));
    } else {
      out.push(encodeURIComponent(key) + '=' + encodeURIComponent(String(v)));
    }
  };
  if (data && typeof data === 'object' && !Array.isArray(data)) {
    for (const [k, v] of Object.entries(data)) walk(v, prefix ? `${prefix}[${k}]` : k);
  } else walk(data, prefix);
  return out.join('&');
}

/** Returns the value of `key` in `p` compared case-insensitively (Bitrix accepts `ID`/`id`, `FILTER`/`filter`). */
export function pick(p: Params, ...keys: string[]): any {
  for (const k of keys) if (p[k] !== undefined) return p[k];
  const lower = keys.map((k) => k.toLowerCase());
  for (const [k, v] of Object.entries(p)) if (lower.includes(k.toLowerCase())) return v;
  return undefined;
}

/** PHP truthiness for flags sent as `1`, `'Y'`, `'true'`, `true`. */
export function truthy(v: unknown): boolean {
  if (typeof v === 'string') return v !== '' && v !== '0' && v.toUpperCase() !== 'N' && v.toLowerCase() !== 'false';
  return Boolean(v);
}

/** Converts `{ "0": a, "1": b }` (how PHP sees a list) to an array when keys are 0..n-1. */
export function asList(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return v;
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.every((k, i) => k === String(i))) return Object.values(v);
    return Object.values(v);
  }
  if (v === undefined || v === null || v === '') return undefined;
  return [v];
}
