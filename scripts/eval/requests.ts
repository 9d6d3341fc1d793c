/**
 * The planner evaluation set (issue 16, item 4): chat requests in Russian and English, one per line of the
 * harness's table, each with what a good plan for it looks like. Expectations name Bitrix24 REST methods and the
 * fields they set (apidocs.bitrix24.com: crm.deal.*, crm.item.* with entityTypeId 2 = deal, crm.timeline.comment.add,
 * tasks.task.add, im.message.add) and the pipeline triggers of `schemas/pipeline.schema.json`.
 */

/** Request classes the harness totals by. */
export type EvalClass = 'read' | 'write' | 'fanout' | 'schedule' | 'event' | 'recipe';

/** A method the plan must touch: a step calls it (directly or inside a `use:` recipe), with these params. */
export interface ExpectedTouch {
  /** Bitrix24 REST method name, e.g. `crm.item.update`. */
  method: string;
  /** `params.entityTypeId` of the step (`crm.item.*`: 2 = deal, 1 = lead, 3 = contact). */
  entityTypeId?: number;
  /** Keys the step sets in `params.fields` (or `params.FIELDS`), e.g. `stageId`. */
  fields?: string[];
}

/** One evaluation request and its expectation. */
export interface EvalRequest {
  /** Stable id (`<class>-<n>-<lang>`), the key of the scripted fixtures' index. */
  id: string;
  class: EvalClass;
  lang: 'ru' | 'en';
  text: string;
  /** Packs the request should be routed to (the routed set must contain them). */
  packs: string[];
  touches: ExpectedTouch[];
  /** Whether the plan writes (some touched method is not a read). */
  writes: boolean;
  /** The trigger the pipeline should declare, when the request repeats. */
  trigger?: 'schedule' | 'event';
}

const dealsRead: ExpectedTouch = { method: 'crm.deal.list' };
const leadsRead: ExpectedTouch = { method: 'crm.lead.list' };
/** An event pipeline reads the lead its event is about. */
const leadRead: ExpectedTouch = { method: 'crm.lead.get' };
const comment: ExpectedTouch = { method: 'crm.timeline.comment.add', fields: ['ENTITY_ID', 'ENTITY_TYPE', 'COMMENT'] };
const chatMessage: ExpectedTouch = { method: 'im.message.add' };
const task: ExpectedTouch = { method: 'tasks.task.add', fields: ['TITLE', 'RESPONSIBLE_ID'] };

/** The request set (≥ 40, every class in both languages). */
export const REQUESTS: EvalRequest[] = [
  // read-only reports
  r('read-1-ru', 'ru', 'сколько открытых сделок и на какую сумму по каждой стадии', [dealsRead]),
  r('read-2-en', 'en', 'show the total of open deals per pipeline stage', [dealsRead]),
  r('read-3-ru', 'ru', 'покажи новые лиды', [leadsRead]),
  r('read-4-en', 'en', 'list new leads that nobody has processed yet', [leadsRead]),
  r('read-5-ru', 'ru', 'какая сумма открытых сделок в воронке сейчас', [dealsRead]),
  r('read-6-en', 'en', 'how many new leads do we have', [leadsRead]),
  r('read-7-en', 'en', 'which deals are open, with their stage and amount', [dealsRead]),
  // single writes
  w('write-1-ru', 'ru', 'создай сделку для ООО Ромашка на 50 000 рублей', {
    method: 'crm.deal.add',
    fields: ['TITLE', 'OPPORTUNITY'],
  }),
  w('write-2-en', 'en', 'create a deal for Horns and Hooves LLC worth 120000 rubles', {
    method: 'crm.deal.add',
    fields: ['TITLE', 'OPPORTUNITY'],
  }),
  w('write-3-ru', 'ru', 'переведи сделку 1 в стадию WON', {
    method: 'crm.item.update',
    entityTypeId: 2,
    fields: ['stageId'],
  }),
  w('write-4-en', 'en', 'move deal 1 to the WON stage', {
    method: 'crm.item.update',
    entityTypeId: 2,
    fields: ['stageId'],
  }),
  w('write-5-ru', 'ru', 'добавь контакт Иван Петров, телефон +79001234567', {
    method: 'crm.contact.add',
    fields: ['NAME', 'LAST_NAME', 'PHONE'],
  }),
  w('write-6-en', 'en', 'add a contact John Smith with phone +15550100', {
    method: 'crm.contact.add',
    fields: ['NAME', 'LAST_NAME', 'PHONE'],
  }),
  w('write-7-ru', 'ru', 'поставь мне задачу позвонить клиенту завтра', task),
  w('write-8-en', 'en', 'create a task for me to call the client tomorrow', task),
  w('write-9-en', 'en', 'create a deal', { method: 'crm.deal.add', fields: ['TITLE'] }),
  // fan-out writes over a list
  f('fanout-1-ru', 'ru', 'оставь комментарий на всех сделках без изменений две недели', [dealsRead, comment]),
  f('fanout-2-en', 'en', 'comment on every deal that has not changed for two weeks', [dealsRead, comment]),
  f('fanout-3-ru', 'ru', 'переведи все сделки из стадии NEW в стадию PREPARATION', [dealsRead, stageMove()]),
  f('fanout-4-en', 'en', 'move all deals in stage NEW to PREPARATION', [dealsRead, stageMove()]),
  f('fanout-5-ru', 'ru', 'добавь комментарий «проверить» ко всем давно не менявшимся сделкам', [dealsRead, comment]),
  f('fanout-6-en', 'en', 'for each stale deal add a timeline note', [dealsRead, comment]),
  f('fanout-7-ru', 'ru', 'все сделки на стадии NEW перевести в PREPARATION', [dealsRead, stageMove()]),
  // schedules
  s('schedule-1-ru', 'ru', 'каждый понедельник в 9 присылай мне в чат сумму открытых сделок по стадиям', true),
  s('schedule-2-en', 'en', 'every Monday at 9 send me a chat message with open deal totals by stage', true),
  s('schedule-3-ru', 'ru', 'каждый понедельник комментируй сделки без изменений две недели', false),
  s('schedule-4-en', 'en', 'every Monday comment on deals without changes for two weeks', false),
  s('schedule-5-ru', 'ru', 'каждую пятницу в 18:00 присылай в чат сводку по открытым сделкам', true),
  s('schedule-6-en', 'en', 'each weekday morning, note stale deals in their timeline', false),
  s('schedule-7-en', 'en', 'every day at 8 send a message to my chat with deal totals per stage', true),
  // events
  e('event-1-ru', 'ru', 'когда приходит новый лид, оставляй в нём комментарий', [leadRead, leadComment()]),
  e('event-2-en', 'en', 'when a new lead arrives, add a timeline comment to it', [leadRead, leadComment()]),
  e('event-3-ru', 'ru', 'при создании сделки ставь задачу ответственному', [dealsRead, task]),
  e('event-4-en', 'en', 'whenever a deal is created, create a task for its owner', [dealsRead, task]),
  e('event-5-ru', 'ru', 'на каждый новый лид пиши комментарий в таймлайн', [leadRead, leadComment()]),
  e('event-6-en', 'en', 'when a lead comes in, comment on it', [leadRead, leadComment()]),
  // recipes (`use:` steps)
  c('recipe-1-ru', 'ru', 'сделай задачу ответственному по сделке 1 и отметь её в таймлайне', ['core'], followUp()),
  c('recipe-2-en', 'en', 'create a follow-up task for the owner of deal 1', ['core'], followUp()),
  c('recipe-3-ru', 'ru', 'отправь сообщение в чат пользователю 1 о стадии сделки 1', ['comms', 'core'], notify()),
  c('recipe-4-en', 'en', "notify user 1 in chat about deal 1's stage and amount", ['comms', 'core'], notify()),
  c('recipe-5-ru', 'ru', 'задача на фоллоу-ап по сделке 1 для ответственного', ['core'], followUp()),
  c('recipe-6-en', 'en', 'send a chat message to user 1 with the status of deal 1', ['comms', 'core'], notify()),
];

function stageMove(): ExpectedTouch {
  return { method: 'crm.deal.update', fields: ['STAGE_ID'] };
}
function leadComment(): ExpectedTouch {
  return comment;
}
function followUp(): ExpectedTouch[] {
  return [{ method: 'crm.deal.get' }, task, { method: 'crm.timeline.comment.add' }];
}
function notify(): ExpectedTouch[] {
  return [{ method: 'crm.deal.get' }, chatMessage];
}

function r(id: string, lang: 'ru' | 'en', text: string, touches: ExpectedTouch[]): EvalRequest {
  return { id, class: 'read', lang, text, packs: ['core'], touches, writes: false };
}
function w(id: string, lang: 'ru' | 'en', text: string, touch: ExpectedTouch): EvalRequest {
  return { id, class: 'write', lang, text, packs: ['core'], touches: [touch], writes: true };
}
function f(id: string, lang: 'ru' | 'en', text: string, touches: ExpectedTouch[]): EvalRequest {
  return { id, class: 'fanout', lang, text, packs: ['core'], touches, writes: true };
}
/** A schedule: a chat report (core + comms) or weekly comments on stale deals (core). */
function s(id: string, lang: 'ru' | 'en', text: string, chat: boolean): EvalRequest {
  return chat
    ? {
        id,
        class: 'schedule',
        lang,
        text,
        packs: ['comms', 'core'],
        touches: [dealsRead, chatMessage],
        writes: true,
        trigger: 'schedule',
      }
    : {
        id,
        class: 'schedule',
        lang,
        text,
        packs: ['core'],
        touches: [dealsRead, comment],
        writes: true,
        trigger: 'schedule',
      };
}
function e(id: string, lang: 'ru' | 'en', text: string, touches: ExpectedTouch[]): EvalRequest {
  return { id, class: 'event', lang, text, packs: ['core'], touches, writes: true, trigger: 'event' };
}
function c(id: string, lang: 'ru' | 'en', text: string, packs: string[], touches: ExpectedTouch[]): EvalRequest {
  return { id, class: 'recipe', lang, text, packs, touches, writes: true };
}
