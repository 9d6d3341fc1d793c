/**
 * Plans in plain words: one line per planned write with the record's title and the people, stages and pipelines by
 * name (`Update contact “Ivan Petrov” #12: Responsible: Anna Smirnova → Oleg Ivanov`), for a person who approves the
 * change. Names come from {@link PlanNames} (one lookup round per call, cached). Stage reference lists: see
 * apidocs.bitrix24.com/api-reference/crm/status/crm-status-list.html (ENTITY_ID `DEAL_STAGE_<category>`,
 * `DYNAMIC_<entityTypeId>_STAGE_<category>`, `STATUS`, `SOURCE`, …).
 */
import type { NameRefs, PlanNames, RecordRef } from './planNames.js';
import type { PlannedWrite } from './run/types.js';

type Lang = 'en' | 'ru';
/** How a field's value is named: a user, an entry of a crm.status.list, a category (pipeline). */
type Kind = 'user' | 'stage' | 'status' | 'source' | 'type' | 'industry' | 'category';

/** Labels (en, ru) and value kinds of common CRM and task fields, in both the legacy and the camelCase spelling. */
const FIELDS: Record<string, [string, string, Kind?]> = {};
const field = (names: string[], en: string, ru: string, kind?: Kind) => {
  for (const n of names) FIELDS[n] = [en, ru, kind];
};
field(['ASSIGNED_BY_ID', 'assignedById', 'RESPONSIBLE_ID', 'responsibleId'], 'Responsible', 'Ответственный', 'user');
field(['CREATED_BY_ID', 'createdBy', 'CREATED_BY'], 'Created by', 'Создал', 'user');
field(['MODIFY_BY_ID', 'updatedBy', 'CHANGED_BY'], 'Changed by', 'Изменил', 'user');
field(['AUDITORS', 'OBSERVERS', 'observers'], 'Observers', 'Наблюдатели', 'user');
field(['ACCOMPLICES'], 'Participants', 'Соисполнители', 'user');
field(['STAGE_ID', 'stageId'], 'Stage', 'Стадия', 'stage');
field(['STATUS_ID'], 'Status', 'Статус', 'status');
field(['SOURCE_ID', 'sourceId'], 'Source', 'Источник', 'source');
field(['TYPE_ID', 'typeId'], 'Type', 'Тип', 'type');
field(['INDUSTRY', 'industry'], 'Industry', 'Сфера деятельности', 'industry');
field(['CATEGORY_ID', 'categoryId'], 'Pipeline', 'Воронка', 'category');
field(['TITLE', 'title'], 'Title', 'Название');
field(['NAME', 'name'], 'First name', 'Имя');
field(['LAST_NAME', 'lastName'], 'Last name', 'Фамилия');
field(['SECOND_NAME', 'secondName'], 'Middle name', 'Отчество');
field(['OPPORTUNITY', 'opportunity'], 'Amount', 'Сумма');
field(['CURRENCY_ID', 'currencyId'], 'Currency', 'Валюта');
field(['COMMENTS', 'comments', 'COMMENT'], 'Comment', 'Комментарий');
field(['DESCRIPTION', 'description'], 'Description', 'Описание');
field(['PHONE'], 'Phone', 'Телефон');
field(['EMAIL'], 'E-mail', 'E-mail');
field(['COMPANY_ID', 'companyId'], 'Company', 'Компания');
field(['CONTACT_ID', 'contactId', 'CONTACT_IDS', 'contactIds'], 'Contact', 'Контакт');
field(['CLOSEDATE', 'closedate'], 'Close date', 'Дата завершения');
field(['BEGINDATE', 'begindate'], 'Start date', 'Дата начала');
field(['DEADLINE', 'deadline'], 'Deadline', 'Крайний срок');
field(['PROBABILITY', 'probability'], 'Probability', 'Вероятность');
field(['POST', 'post'], 'Position', 'Должность');
field(['OPENED', 'opened'], 'Open to all', 'Доступна для всех');
field(['CLOSED', 'closed'], 'Closed', 'Закрыта');

/** Nouns of record kinds (ru in the accusative: "Изменить сделку"). */
const NOUNS: Record<string, [string, string]> = {
  lead: ['lead', 'лид'],
  deal: ['deal', 'сделку'],
  contact: ['contact', 'контакт'],
  company: ['company', 'компанию'],
  quote: ['quote', 'предложение'],
  invoice: ['invoice', 'счёт'],
  task: ['task', 'задачу'],
  item: ['item', 'элемент'],
};
/** entityTypeId of the CRM record kinds. */
const TYPE_IDS: Record<string, number> = { lead: 1, deal: 2, contact: 3, company: 4, quote: 7, invoice: 31 };
/**
 * The CRM record kind of an `entityTypeId` (apidocs.bitrix24.com/api-reference/crm/data-types.html#object_type):
 * 1 lead, 2 deal, 3 contact, 4 company, 7 quote, 31 invoice.
 */
export const KIND_OF_TYPE: Readonly<Record<number, string>> = {
  1: 'lead',
  2: 'deal',
  3: 'contact',
  4: 'company',
  7: 'quote',
  31: 'invoice',
};

const VERBS: Record<string, [string, string]> = {
  add: ['Create', 'Создать'],
  update: ['Update', 'Изменить'],
  delete: ['Delete', 'Удалить'],
};

const T = {
  en: { pending: ' (uses results of earlier writes)', same: ' (unchanged)', open: '“', close: '”', q: ['"', '"'] },
  ru: {
    pending: ' (использует результаты предыдущих шагов)',
    same: ' (без изменений)',
    open: '«',
    close: '»',
    q: ['«', '»'],
  },
};

/** Longest value shown, in characters (longer ones are cut with "…"). */
const MAX_VALUE = 80;

const isObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const cut = (s: string, n = MAX_VALUE) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const empty = (v: unknown) => v === null || v === undefined || v === '';

/** One write seen for wording: its verb, record kind, target record, the fields set (with before when known). */
interface View {
  w: PlannedWrite;
  verb?: string;
  kind?: string;
  /** entityTypeId of the CRM record kind (stage lists and categories hang on it). */
  etid?: number;
  id?: string;
  record?: RecordRef;
  changes: { field: string; before?: unknown; after: unknown; hasBefore: boolean }[];
}

function viewOf(w: PlannedWrite): View {
  const p = isObject(w.params) ? w.params : {};
  const m = /^(crm\.(lead|deal|contact|company|quote|item)|tasks\.task)\.(add|update|delete)$/i.exec(w.method);
  const verb = (m?.[3] ?? /\.(add|update|delete)$/i.exec(w.method)?.[1])?.toLowerCase();
  let kind = m?.[2]?.toLowerCase() ?? (m ? 'task' : undefined);
  let etid = kind ? TYPE_IDS[kind] : undefined;
  if (kind === 'item') {
    etid = Number(p.entityTypeId ?? p.ENTITY_TYPE_ID);
    kind = KIND_OF_TYPE[etid] ?? 'item';
  }
  const rawId = p.id ?? p.ID ?? p.taskId ?? p.TASKID;
  const id = typeof rawId === 'string' || typeof rawId === 'number' ? String(rawId) : undefined;
  // only CRM records have a title to look up (tasks and other entities show their id)
  const record =
    etid && Number.isInteger(etid) && id && /^\d+$/.test(id) && (verb === 'update' || verb === 'delete')
      ? { entityTypeId: etid, id }
      : undefined;
  let changes: View['changes'];
  if (w.diff?.length) changes = w.diff.map((d) => ({ ...d, hasBefore: true }));
  else {
    const fields = isObject(p.fields)
      ? p.fields
      : verb === 'delete'
        ? {}
        : omit(p, ['id', 'ID', 'taskId', 'TASKID', 'entityTypeId']);
    changes = Object.entries(fields).map(([field, after]) => ({ field, after, hasBefore: false }));
  }
  return { w, verb, kind: kind ?? w.entity, etid: Number.isInteger(etid) ? etid : undefined, id, record, changes };
}

function omit(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (!keys.includes(k)) out[k] = v;
  return out;
}

/** The crm.status.list ENTITY_ID a value of a field of kind `kind` belongs to, when known. */
function statusList(kind: Kind, value: string, v: View): string | undefined {
  if (kind === 'stage') {
    const c = /^C(\d+):/.exec(value);
    if (c) return `DEAL_STAGE_${c[1]}`;
    const d = /^DT(\d+)_(\d+):/.exec(value);
    if (d) return d[1] === '31' ? `SMART_INVOICE_STAGE_${d[2]}` : `DYNAMIC_${d[1]}_STAGE_${d[2]}`;
    return v.etid === 2 ? 'DEAL_STAGE' : v.etid === 1 ? 'STATUS' : v.etid === 7 ? 'QUOTE_STATUS' : undefined;
  }
  if (kind === 'status') return v.etid === 1 ? 'STATUS' : v.etid === 7 ? 'QUOTE_STATUS' : undefined;
  if (kind === 'source') return 'SOURCE';
  if (kind === 'industry') return 'INDUSTRY';
  if (kind === 'type')
    return v.etid === 2 ? 'DEAL_TYPE' : v.etid === 3 ? 'CONTACT_TYPE' : v.etid === 4 ? 'COMPANY_TYPE' : undefined;
  return undefined;
}

/** The ids a value holds (one, or a list for multi-user fields). */
const idsOf = (v: unknown): string[] =>
  (Array.isArray(v) ? v : [v]).filter((x) => typeof x === 'string' || typeof x === 'number').map(String);

/** What the round must look up for these views. */
function refsOf(views: View[]): NameRefs {
  const users = new Set<string>();
  const lists = new Set<string>();
  const categories = new Set<number>();
  const records: RecordRef[] = [];
  for (const v of views) {
    if (v.record) records.push(v.record);
    for (const c of v.changes) {
      const kind = FIELDS[c.field]?.[2];
      if (!kind) continue;
      for (const val of [c.after, ...(c.hasBefore ? [c.before] : [])]) {
        if (kind === 'user') for (const id of idsOf(val)) users.add(id);
        else if (kind === 'category' && v.etid !== undefined && !empty(val)) categories.add(v.etid);
        else if (typeof val === 'string' && val) {
          const list = statusList(kind, val, v);
          if (list) lists.add(list);
        }
      }
    }
  }
  return { users, statusLists: lists, categories, records };
}

/** A value in words: names for user, stage, status and category ids; strings quoted; long values cut. */
function valueText(field: string, val: unknown, v: View, names: PlanNames, lang: Lang): string {
  const [ql, qr] = T[lang].q;
  if (empty(val) || (Array.isArray(val) && !val.length)) return `${ql}${qr}`;
  const kind = FIELDS[field]?.[2];
  if (kind === 'user') {
    const ids = idsOf(val);
    if (ids.length) return cut(ids.map((id) => (id === '0' ? `${ql}${qr}` : names.userName(id, lang))).join(', '));
  } else if (kind === 'category' && v.etid !== undefined && (typeof val === 'string' || typeof val === 'number')) {
    return cut(names.categoryName(v.etid, val));
  } else if (kind && typeof val === 'string') {
    const list = statusList(kind, val, v);
    if (list) return cut(names.statusName(list, val));
  }
  if (typeof val === 'number' || typeof val === 'boolean') return String(val);
  if (typeof val === 'string') return `${ql}${cut(val)}${qr}`;
  if (Array.isArray(val) && val.every((x) => isObject(x) && 'VALUE' in x))
    return `${ql}${cut(val.map((x) => String((x as Record<string, unknown>).VALUE)).join(', '))}${qr}`;
  return cut(JSON.stringify(val) ?? String(val));
}

const TITLE_FIELDS = ['TITLE', 'title'];

/** The title a create sets (TITLE / title, else NAME LAST_NAME), and whether the name fields were used for it. */
function createdTitle(v: View): { title?: string; fields: string[] } {
  const get = (f: string) => v.changes.find((c) => c.field === f)?.after;
  for (const f of TITLE_FIELDS) if (typeof get(f) === 'string' && get(f)) return { title: String(get(f)), fields: [f] };
  const parts = [
    ['NAME', 'name'],
    ['LAST_NAME', 'lastName'],
  ].flatMap(([a, b]) =>
    typeof get(a!) === 'string' && get(a!) ? [a!] : typeof get(b!) === 'string' && get(b!) ? [b!] : [],
  );
  if (parts.length) return { title: parts.map((f) => String(get(f))).join(' '), fields: parts };
  return { fields: [] };
}

function lineOf(v: View, names: PlanNames, lang: Lang): string {
  const t = T[lang];
  const label = (f: string) => FIELDS[f]?.[lang === 'en' ? 0 : 1] ?? f;
  const quoted = (s: string) => `${t.open}${cut(s)}${t.close}`;
  const noun = v.kind ? (NOUNS[v.kind]?.[lang === 'en' ? 0 : 1] ?? v.kind) : v.w.entity;
  const verb = v.verb ? VERBS[v.verb]?.[lang === 'en' ? 0 : 1] : undefined;
  const head = verb ? `${verb} ${noun}` : v.w.method;
  const pending = v.w.pending ? t.pending : '';
  if (v.verb === 'add') {
    const { title, fields } = createdTitle(v);
    const rest = v.changes
      .filter((c) => !fields.includes(c.field))
      .map((c) => `${label(c.field)} ${valueText(c.field, c.after, v, names, lang)}`);
    return `${head}${title ? ` ${quoted(title)}` : ''}${rest.length ? `: ${rest.join(', ')}` : ''}${pending}`;
  }
  const title = v.record ? names.recordTitle(v.record) : undefined;
  const target = `${title ? ` ${quoted(title)}` : ''}${v.id !== undefined ? ` #${cut(v.id, 40)}` : ''}`;
  if (v.verb === 'delete') return `${head}${target}${pending}`;
  const changes = v.changes.map((c) => {
    const after = valueText(c.field, c.after, v, names, lang);
    if (!c.hasBefore) return `${label(c.field)} → ${after}`;
    const same = JSON.stringify(c.before) === JSON.stringify(c.after) ? t.same : '';
    return `${label(c.field)}: ${valueText(c.field, c.before, v, names, lang)} → ${after}${same}`;
  });
  return `${head}${target}${changes.length ? `: ${changes.join('; ')}` : ''}${pending}`;
}

/**
 * One line per planned write in plain words, in `lang`: creates name what they set (`Create deal “Title”: Amount
 * 5000, Responsible Anna Smirnova`), updates show each field before → after from the plan's `diff` (else → the new
 * value from the params' `fields`) on the record named by its title (`Update contact “Ivan Petrov” #12: …`), deletes
 * name the record (`Delete contact “Ivan Petrov” #12`; the caller marks them as dangerous). User, stage, status,
 * source, type and category ids are replaced by names; unknown fields show by their name; values longer than ~80
 * characters are cut. Other methods show the method name and their fields. The names are looked up in one round
 * through `names` (cached there); a name that cannot be found shows as its id (`user #11`). Never throws for a
 * missing name.
 */
export async function describeWrites(writes: PlannedWrite[], names: PlanNames, lang: Lang): Promise<string[]> {
  const views = writes.map(viewOf);
  await names.load(refsOf(views));
  return views.map((v) => lineOf(v, names, lang));
}
