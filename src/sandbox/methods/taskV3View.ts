/**
 * The REST 3.0 task DTO (`/rest/api/tasks.task.*`): the documented own fields (typed: numbers, booleans, ISO dates,
 * status/priority words) and the related objects (`creator`, `responsible`, `group`, `stage`, `chat`, `parent`,
 * `changedBy`, `statusChangedBy`, `closedBy`) with `select` as the docs describe it — own field names pick fields
 * (unknown ones are dropped), relation paths (`responsible.name`, or `responsible` for the whole object) add the
 * related object; a select of relations only keeps every own field. An unknown relation or relation field is a
 * validation error. Facts (names, types) from apidocs.bitrix24.com/api-reference/tasks/fields-rest-v3.html,
 * tasks-task-get-rest-v3.html, tasks-task-field-list-rest-v3.html (doc api-reference/tasks/*-rest-v3.md,
 * fields-rest-v3.md), rest-protocol.md §8.
 */
import { v3Error } from '../apiError.js';
import type { Portal } from '../portal.js';
import { isoDate } from '../portalTime.js';
import type { Row } from '../store.js';

/** Status number → REST 3.0 word. */
export const STATUS_WORDS: Record<number, string> = {
  1: 'new',
  2: 'pending',
  3: 'in_progress',
  4: 'supposedly_completed',
  5: 'completed',
  6: 'deferred',
  7: 'declined',
};
/** Priority number → REST 3.0 word. */
export const PRIORITY_WORDS: Record<number, string> = { 0: 'low', 1: 'average', 2: 'high' };

const date = (v: unknown) => (typeof v === 'number' ? isoDate(v) : null);
const num = (v: unknown) => (v === null || v === undefined || v === '' || Number(v) === 0 ? null : Number(v));
const nums = (v: unknown) => (Array.isArray(v) ? v.map(Number) : []);

/** REST 3.0 field type names of `tasks.task.field.list`. */
type V3Type = 'int' | 'string' | 'datetime' | 'boolean' | 'array' | 'object';

/** Own fields: name → [type, value from the row]. */
const OWN: Record<string, [V3Type, (r: Row, p: Portal) => unknown]> = {
  id: ['int', (r) => Number(r.ID)],
  title: ['string', (r) => String(r.TITLE ?? '')],
  description: ['string', (r) => String(r.DESCRIPTION ?? '')],
  creatorId: ['int', (r) => Number(r.CREATED_BY)],
  created: ['datetime', (r) => date(r.CREATED_DATE)],
  responsibleId: ['int', (r) => Number(r.RESPONSIBLE_ID)],
  deadline: ['datetime', (r) => date(r.DEADLINE)],
  needsControl: ['boolean', (r) => r.TASK_CONTROL === 'Y'],
  startPlan: ['datetime', (r) => date(r.START_DATE_PLAN)],
  endPlan: ['datetime', (r) => date(r.END_DATE_PLAN)],
  fileIds: ['array', () => null],
  checklist: [
    'array',
    (r, p) => p.t.checklist_item.rows.filter((c) => Number(c.TASK_ID) === Number(r.ID)).map((c) => Number(c.ID)),
  ],
  groupId: ['int', (r) => Number(r.GROUP_ID ?? 0)],
  stageId: ['int', (r) => Number(r.STAGE_ID ?? 0)],
  epicId: ['int', () => null],
  storyPoints: ['string', () => null],
  flowId: ['int', () => null],
  priority: ['string', (r) => PRIORITY_WORDS[r.PRIORITY] ?? 'average'],
  status: ['string', (r) => STATUS_WORDS[r.STATUS] ?? 'pending'],
  statusChanged: ['datetime', (r) => date(r.STATUS_CHANGED_DATE)],
  accomplices: ['array', (r) => nums(r.ACCOMPLICES)],
  auditors: ['array', (r) => nums(r.AUDITORS)],
  parentId: ['int', (r) => num(r.PARENT_ID)],
  containsChecklist: ['boolean', (r, p) => p.t.checklist_item.rows.some((c) => Number(c.TASK_ID) === Number(r.ID))],
  containsSubTasks: ['boolean', (r, p) => p.t.task.rows.some((t) => Number(t.PARENT_ID) === Number(r.ID))],
  containsRelatedTasks: ['boolean', () => false],
  containsGanttLinks: ['boolean', () => false],
  containsPlacements: ['boolean', () => false],
  containsResults: ['boolean', () => false],
  numberOfReminders: ['int', () => 0],
  chatId: ['int', (r) => Number(r.ID)],
  plannedDuration: ['int', () => 0],
  actualDuration: ['int', () => 0],
  durationType: ['string', () => 'days'],
  started: ['datetime', (r) => date(r.DATE_START)],
  estimatedTime: ['int', (r) => Number(r.TIME_ESTIMATE ?? 0)],
  replicate: ['boolean', (r) => r.REPLICATE === 'Y'],
  changed: ['datetime', (r) => date(r.CHANGED_DATE)],
  changedById: ['int', (r) => num(r.CHANGED_BY)],
  statusChangedById: ['int', (r) => num(r.CHANGED_BY)],
  closedById: ['int', (r) => num(r.CLOSED_BY)],
  closed: ['datetime', (r) => date(r.CLOSED_DATE)],
  activity: ['datetime', (r) => date(r.ACTIVITY_DATE)],
  guid: ['string', (r) => `{${String(r.ID).padStart(8, '0')}-0000-4000-8000-000000000000}`],
  xmlId: ['string', () => null],
  exchangeId: ['string', () => null],
  exchangeModified: ['datetime', () => null],
  outlookVersion: ['int', () => 1],
  mark: ['string', (r) => (r.MARK === 'P' ? 'positive' : r.MARK === 'N' ? 'negative' : 'none')],
  allowsChangeDeadline: ['boolean', (r) => r.ALLOW_CHANGE_DEADLINE === 'Y'],
  allowsTimeTracking: ['boolean', () => false],
  matchesWorkTime: ['boolean', () => false],
  addInReport: ['boolean', () => null],
  isMultitask: ['boolean', (r) => r.MULTITASK === 'Y'],
  siteId: ['string', () => 's1'],
  forkedByTemplateId: ['int', () => null],
  deadlineCount: ['int', () => null],
  declineReason: ['string', () => null],
  forumTopicId: ['int', () => null],
  link: ['string', (r) => `/company/personal/user/${r.RESPONSIBLE_ID}/tasks/task/view/${r.ID}/`],
  rights: ['array', () => RIGHTS],
  archiveLink: [
    'string',
    (r) => `/bitrix/tools/disk/uf.php?entityId=${r.ID}&entity=TASKS_TASK&fieldName=UF_TASK_WEBDAV_FILES`,
  ],
  crmItemIds: ['array', (r) => (Array.isArray(r.UF_CRM_TASK) ? r.UF_CRM_TASK.map(String) : [])],
  requireResult: ['boolean', () => false],
  matchesSubTasksTime: ['boolean', () => false],
  autocompleteSubTasks: ['boolean', () => false],
  allowsChangeDatePlan: ['boolean', () => false],
  maxDeadlineChangeDate: ['datetime', () => null],
  maxDeadlineChanges: ['int', () => null],
  requireDeadlineChangeReason: ['boolean', () => false],
  inFavorite: ['array', () => []],
  inPin: ['array', () => []],
  inGroupPin: ['array', () => []],
  inMute: ['array', () => []],
  dependsOn: ['array', () => []],
  scenarios: ['array', () => ['default']],
};

const RIGHT_NAMES =
  'read watch mute createResult edit remove complete approve disapprove start take delegate defer renew deadline ' +
  'datePlan changeDirector changeResponsible changeAccomplices pause timeTracking mark changeStatus reminder ' +
  'addAuditors elapsedTime favorite checklistAdd checklistEdit checklistSave checklistToggle automate resultEdit ' +
  'completeResult removeResult resultRead admin createSubtask copy saveAsTemplate attachFile detachFile ' +
  'detachParent createGanttDependence sort';
const RIGHTS = Object.fromEntries(RIGHT_NAMES.split(' ').map((k) => [k, true]));

function userDto(p: Portal, id: unknown): Record<string, unknown> | null {
  const u = p.t.user.get(id);
  if (!u) return null;
  return {
    id: Number(u.ID),
    name: `${u.NAME ?? ''} ${u.LAST_NAME ?? ''}`.trim(),
    role: 'employee',
    image: null,
    gender: u.PERSONAL_GENDER === 'F' ? 'female' : u.PERSONAL_GENDER === 'M' ? 'male' : null,
    email: u.EMAIL ?? null,
    externalAuthId: null,
    rights: { edit: true },
  };
}

/** Related objects: name → value from the row (null when absent). */
const RELATIONS: Record<string, (r: Row, p: Portal) => Record<string, unknown> | null> = {
  creator: (r, p) => userDto(p, r.CREATED_BY),
  responsible: (r, p) => userDto(p, r.RESPONSIBLE_ID),
  changedBy: (r, p) => userDto(p, r.CHANGED_BY),
  statusChangedBy: (r, p) => userDto(p, r.CHANGED_BY),
  closedBy: (r, p) => (r.CLOSED_BY ? userDto(p, r.CLOSED_BY) : null),
  group: (r, p) => {
    const g = p.t.workgroup.get(r.GROUP_ID);
    return g ? { id: Number(g.ID), name: g.NAME, image: null, type: 'group', isVisible: g.VISIBLE !== 'N' } : null;
  },
  stage: (r) => (r.STAGE_ID ? { id: Number(r.STAGE_ID), title: '', color: '' } : null),
  chat: (r) => ({ id: Number(r.ID), entityId: Number(r.ID), entityType: 'TASKS_TASK' }),
  parent: (r, p) => {
    const t = r.PARENT_ID ? p.t.task.get(r.PARENT_ID) : undefined;
    return t ? { id: Number(t.ID), title: t.TITLE } : null;
  },
  flow: () => null,
};

/** `tasks.task.field.list` items: every own field and relation with its type. */
export function taskV3FieldList(filterable: Set<string>): Record<string, unknown>[] {
  const rows: [string, V3Type][] = Object.entries(OWN).map(([n, [t]]) => [n, t]);
  for (const n of Object.keys(RELATIONS)) rows.push([n, 'object']);
  return rows.map(([name, type]) => ({
    name,
    type,
    title: name,
    description: null,
    filterable: filterable.has(name),
    sortable: filterable.has(name),
    multiple: type === 'array',
  }));
}

/**
 * The REST 3.0 DTO of a task; `select` as documented (own names and relation paths).
 * @throws v3 VALIDATION_REQUESTVALIDATIONEXCEPTION for an unknown relation or relation field
 */
export function taskV3(p: Portal, row: Row, select?: unknown[]): Record<string, unknown> {
  const names = (select ?? []).map(String);
  const own = names.filter((n) => !n.includes('.') && !(n in RELATIONS));
  const rel = names.filter((n) => n.includes('.') || n in RELATIONS);
  const o: Record<string, unknown> = {};
  const ownKeys = own.length ? ['id', ...own.filter((n) => n !== 'id' && n in OWN)] : Object.keys(OWN);
  for (const k of ownKeys) o[k] = OWN[k]![1](row, p);
  for (const path of rel) {
    const [name, field] = path.split('.', 2) as [string, string | undefined];
    const make = RELATIONS[name];
    if (!make) throw badSelect(path);
    const full = make(row, p);
    if (!field) {
      o[name] = full;
      continue;
    }
    if (full && !(field in full)) throw badSelect(path);
    const cur = (o[name] ?? {}) as Record<string, unknown> | null;
    o[name] = full ? { ...cur, [field]: full[field] } : null;
  }
  return o;
}

const badSelect = (path: string) =>
  v3Error(400, 'VALIDATION_REQUESTVALIDATIONEXCEPTION', 'Request validation failed', [
    { field: 'select', message: `Unknown field '${path}'` },
  ]);
