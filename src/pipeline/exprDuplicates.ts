/**
 * Duplicate detection for expressions: records (contacts, leads, companies) that share a normalised phone or a
 * lower-cased e-mail. Reads both shapes of a record: the legacy one (`ID`, `PHONE`/`EMAIL` as `[{ VALUE, … }]`) and
 * the crm.item one (`id`, multifields in `fm` as `[{ typeId: 'PHONE', value }]`).
 * Sources: api-reference/crm/contacts/crm-contact-list.html, api-reference/crm/universal/crm-item-list.html (fm).
 */

/** A field of a plain object or a CEL map. */
export function field(item: unknown, name: string): unknown {
  if (item instanceof Map) return item.get(name);
  if (item && typeof item === 'object') return (item as Record<string, unknown>)[name];
  return undefined;
}

/** Values of a Bitrix24 multi-field: `[{ VALUE, VALUE_TYPE }, ...]`, a string, or a list of strings. */
export function multiValues(v: unknown): string[] {
  const list = Array.isArray(v) ? v : v === null || v === undefined ? [] : [v];
  return list.map((x) => (typeof x === 'string' ? x : String(field(x, 'VALUE') ?? ''))).filter((s) => s !== '');
}

/**
 * Normalises a phone number to `+<digits>` (E.164-like): drops spaces, dashes, brackets; a Russian trunk prefix
 * `8XXXXXXXXXX` (11 digits) becomes `+7XXXXXXXXXX`; 10 digits starting with 9 get `+7`. Returns '' for no digits.
 */
export function normalizePhone(raw: string): string {
  const digits = String(raw).replace(/\D+/g, '');
  if (!digits) return '';
  if (digits.length === 11 && digits.startsWith('8')) return `+7${digits.slice(1)}`;
  if (digits.length === 10 && digits.startsWith('9')) return `+7${digits}`;
  return `+${digits}`;
}

/** Phones or e-mails of a record in either shape (legacy `PHONE`, crm.item `fm` with `typeId`). */
function valuesOf(x: unknown, type: 'PHONE' | 'EMAIL'): string[] {
  const fm = field(x, 'fm');
  const fromFm = Array.isArray(fm)
    ? fm
        .filter((f) => String(field(f, 'typeId') ?? '').toUpperCase() === type)
        .map((f) => String(field(f, 'value') ?? ''))
    : [];
  return [...multiValues(field(x, type)), ...fromFm].filter((s) => s !== '');
}

interface Group {
  by: string;
  value: string;
  ids: Set<string>;
}

function groupsOf(list: unknown[]): Group[] {
  const groups = new Map<string, Group>();
  for (const x of list) {
    const id = String(field(x, 'ID') ?? field(x, 'id') ?? '');
    const add = (by: string, value: string) => {
      if (!value) return;
      const k = `${by}:${value}`;
      const g = groups.get(k) ?? { by, value, ids: new Set<string>() };
      g.ids.add(id);
      groups.set(k, g);
    };
    for (const ph of valuesOf(x, 'PHONE')) add('phone', normalizePhone(ph));
    for (const em of valuesOf(x, 'EMAIL')) add('email', em.trim().toLowerCase());
  }
  return [...groups.values()]
    .filter((g) => g.ids.size > 1)
    .sort((a, b) => b.ids.size - a.ids.size || a.value.localeCompare(b.value));
}

/**
 * Groups of records sharing a phone or e-mail: `[{ by: 'phone', value: '+7999…', ids: ['12', '40'] }, ...]`, largest
 * groups first.
 */
export function duplicateGroups(list: unknown[]): Map<string, unknown>[] {
  return groupsOf(list).map(
    (g) =>
      new Map<string, unknown>([
        ['by', g.by],
        ['value', g.value],
        ['ids', [...g.ids]],
      ]),
  );
}

/**
 * Each duplicate with the record it duplicates: `[{ id: '40', of: '12', by: 'phone', value: '+7999…', record }, ...]`
 * (`record`: the duplicate's own row, so that a pipeline can skip ones it handled already) — in
 * every group the oldest record (smallest numeric id) is the original and each other one a duplicate of it; a record
 * in several groups is listed once (with the oldest original it shares a value with), ordered by id.
 */
export function duplicatePairs(list: unknown[]): Map<string, unknown>[] {
  const rows = new Map(list.map((x) => [String(field(x, 'ID') ?? field(x, 'id') ?? ''), x]));
  const best = new Map<string, { of: string; by: string; value: string }>();
  for (const g of groupsOf(list)) {
    const ids = [...g.ids].sort((a, b) => Number(a) - Number(b));
    const of = ids[0]!;
    for (const id of ids.slice(1)) {
      const cur = best.get(id);
      if (!cur || Number(of) < Number(cur.of)) best.set(id, { of, by: g.by, value: g.value });
    }
  }
  return [...best.entries()]
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(
      ([id, p]) =>
        new Map<string, unknown>([
          ['id', id],
          ['of', p.of],
          ['by', p.by],
          ['value', p.value],
          ['record', rows.get(id) ?? null],
        ]),
    );
}
