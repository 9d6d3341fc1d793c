/**
 * File fields of CRM records (contact PHOTO, company LOGO, user fields of type `file`): an uploaded value is
 * `[name, base64]` (crm.item.*) or `{fileData: [name, base64]}` / `{fileData: base64}` (legacy crm.*.add/update,
 * the second one named by the portal), a list of those for a
 * multiple field; it is stored as a file of the portal and the record keeps a file object — never the raw string.
 * `{id}` of a stored file keeps it, `''`/`null`/`{remove: 'Y'}` clears the field. Reads render the object as
 * `{id, url, urlMachine}` in crm.item.* and `{id, showUrl, downloadUrl}` in the legacy methods (the legacy shape is
 * what portals answer; the docs do not show it). Sources: apidocs.bitrix24.com/api-reference/crm/universal/
 * crm-item-add.html (file user fields), api-reference/crm/universal/object-fields.html (`id`, `url`, `urlMachine`),
 * api-reference/files/how-to-upload-files.html.
 */
import { legacyError } from '../apiError.js';
import type { FieldDef } from '../entityFields.js';
import type { Portal } from '../portal.js';
import type { Row } from '../store.js';

/** A stored file value of a record. */
export interface StoredFile {
  id: number;
  url: string;
  urlMachine: string;
}

/** Splits the file-typed keys (any case) off a legacy-keyed input. */
export function takeFiles(
  fields: Record<string, FieldDef>,
  input: Record<string, unknown>,
): { rest: Record<string, unknown>; values: Record<string, unknown> } {
  const rest: Record<string, unknown> = {};
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    const key = k.toUpperCase();
    if (fields[key]?.type === 'file' && !fields[key]!.ro) values[key] = v;
    else rest[k] = v;
  }
  return { rest, values };
}

const isUpload = (v: unknown): v is [string, string] =>
  Array.isArray(v) && v.length >= 2 && typeof v[0] === 'string' && typeof v[1] === 'string';

/** Stores the uploaded files of `values` on `row`; returns the keys that changed. @throws legacy ApiError on bad base64 */
export function applyFiles(
  p: Portal,
  fields: Record<string, FieldDef>,
  row: Row,
  values: Record<string, unknown>,
  entity: string,
): string[] {
  const changed: string[] = [];
  for (const [key, v] of Object.entries(values)) {
    const f = fields[key]!;
    const one = (x: unknown): StoredFile | null => fileValue(p, x, entity, row, key);
    let next: unknown;
    if (f.multi) {
      const list = v === null || v === '' || v === undefined ? [] : isUpload(v) ? [v] : Array.isArray(v) ? v : [v];
      next = list.map(one).filter((x): x is StoredFile => x !== null);
    } else next = one(v);
    if (JSON.stringify(next) !== JSON.stringify(row[key])) changed.push(key);
    row[key] = next;
  }
  return changed;
}

function fileValue(p: Portal, x: unknown, entity: string, row: Row, key: string): StoredFile | null {
  if (x === null || x === undefined || x === '') return null;
  let upload: [string, string] | null = isUpload(x) ? x : null;
  if (!upload && typeof x === 'object') {
    const o = x as Record<string, unknown>;
    if (String(o.remove ?? o.del ?? '').toUpperCase() === 'Y') return null;
    if (isUpload(o.fileData)) upload = o.fileData;
    else if (typeof o.fileData === 'string' && o.fileData !== '') {
      // content without a name (crm-contact-add.md sends PHOTO as {fileData: "<base64>"}): the portal names the file
      // itself and decodes like PHP's base64_decode, which skips characters outside the alphabet (not checked on a
      // real portal: whether it then refuses a non-image PHOTO)
      const content = o.fileData.replace(/[^A-Za-z0-9+/=]/g, '');
      upload = [`file_${p.genericTable(FILES).rows.length + 1}`, content];
    } else {
      const id = Number(o.id ?? o.ID);
      const file = p.genericTable(FILES).get(id);
      if (file) return link(p, file.ID, entity, row, key);
    }
  }
  if (!upload)
    throw legacyError(
      `Field '${key}' expects a file: [name, base64], {fileData: [name, base64]} or {fileData: base64}.`,
    );
  const [name, b64] = upload;
  if (!/^[A-Za-z0-9+/=\s]*$/.test(b64)) throw legacyError(`Field '${key}': file content is not base64.`);
  const bytes = Buffer.from(b64, 'base64');
  const file = p.genericTable(FILES).insert({ NAME: name, SIZE: bytes.length, DATA: bytes.toString('base64') });
  return link(p, file.ID, entity, row, key);
}

/** Table of stored files (kept with the generic tables; its name is no method path). */
const FILES = 'sandbox:file';

function link(p: Portal, fileId: number, entity: string, row: Row, key: string): StoredFile {
  const owner = `entity=${encodeURIComponent(entity)}&field=${encodeURIComponent(key)}&fileId=${fileId}`;
  return {
    id: fileId,
    url: `${p.baseUrl}/bitrix/components/bitrix/crm.show_file.php?${owner}&ownerId=${row.ID ?? 0}`,
    urlMachine: `${p.baseUrl}/rest/crm.controller.item.getFile?${owner}`,
  };
}
