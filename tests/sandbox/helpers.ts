/** Helpers for the sandbox conformance suite: raw HTTP calls in the encodings the docs show, shape checks. */
import { expect } from 'vitest';

/** A raw HTTP answer. */
export interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

/** Encodes nested params PHP-style: `fields[TITLE]=x&select[]=ID` (arrays indexed, as http_build_query does). */
export function phpQuery(data: Record<string, unknown>, prefix = ''): string {
  const out: string[] = [];
  const walk = (v: unknown, key: string) => {
    if (v === null || v === undefined) out.push(`${encodeURIComponent(key)}=`);
    else if (Array.isArray(v)) {
      v.forEach((x, i) => {
        walk(x, `${key}[${i}]`);
      });
    } else if (typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${key}[${k}]`);
    else out.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(v))}`);
  };
  for (const [k, v] of Object.entries(data)) walk(v, prefix ? `${prefix}[${k}]` : k);
  return out.join('&');
}

async function answer(res: Response): Promise<Answer> {
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, headers: res.headers };
}

/** POST JSON (the docs' cURL form). */
export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return answer(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    }),
  );
}

/** POST application/x-www-form-urlencoded with PHP brackets. */
export async function postForm(url: string, params: Record<string, unknown>): Promise<Answer> {
  return answer(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: phpQuery(params),
    }),
  );
}

/** GET with a PHP-bracketed query string. */
export async function get(url: string, params: Record<string, unknown> = {}): Promise<Answer> {
  const q = phpQuery(params);
  return answer(await fetch(q ? `${url}?${q}` : url));
}

/** POST multipart/form-data. */
export async function postMultipart(url: string, fields: Record<string, string>): Promise<Answer> {
  const fd = new FormData();
  for (const [k, v] of Object.entries(fields)) fd.append(k, v);
  return answer(await fetch(url, { method: 'POST', body: fd }));
}

/** Type tag of a JSON value: string, number, boolean, null, array, object. */
export function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Asserts every key of `shape` is present with one of the allowed types (`'string|null'`). */
export function expectShape(obj: unknown, shape: Record<string, string>): void {
  expect(typeOf(obj)).toBe('object');
  for (const [k, t] of Object.entries(shape)) {
    expect(obj as object, `key ${k}`).toHaveProperty([k]);
    const actual = typeOf((obj as any)[k]);
    expect(t.split('|'), `type of ${k} (${actual})`).toContain(actual);
  }
}

/** The `time` block every success carries. */
export const TIME_SHAPE = {
  start: 'number',
  finish: 'number',
  duration: 'number',
  processing: 'number',
  date_start: 'string',
  date_finish: 'string',
  operating_reset_at: 'number',
  operating: 'number',
};

/** ISO-8601 with offset, as the portal prints dates. */
export const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/;
