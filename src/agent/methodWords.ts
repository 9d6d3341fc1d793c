/**
 * Bitrix24 REST methods in a few plain words for chat users (`crm.deal.list` → read deals, `crm.lead.update` → update
 * leads, `crm.timeline.comment.add` → add timeline comments), en and ru. Method names follow the REST naming
 * `<scope>.<entity…>.<verb>` (apidocs.bitrix24.com/api-reference/).
 */
import { KIND_OF_TYPE } from '../pipeline/index.js';

/** Verbs of a method's last segment (Bitrix24 REST naming: `<scope>.<entity>.<verb>`); others fall back to the name. */
const VERBS: Record<string, [string, string]> = {
  list: ['read', 'прочитать'],
  get: ['read', 'прочитать'],
  add: ['add', 'добавить'],
  update: ['update', 'изменить'],
  delete: ['delete', 'удалить'],
  set: ['set', 'задать'],
  bind: ['subscribe to', 'подписаться на'],
  unbind: ['unsubscribe from', 'отписаться от'],
  send: ['send', 'отправить'],
};

/** Entity words (the method's middle segments) → en plural, ru accusative plural. */
const NOUNS: Record<string, [string, string]> = {
  deal: ['deals', 'сделки'],
  lead: ['leads', 'лиды'],
  contact: ['contacts', 'контакты'],
  company: ['companies', 'компании'],
  quote: ['quotes', 'предложения'],
  invoice: ['invoices', 'счета'],
  item: ['items', 'элементы'],
  task: ['tasks', 'задачи'],
  'timeline comment': ['timeline comments', 'комментарии в таймлайне'],
  activity: ['activities', 'дела'],
  status: ['statuses', 'статусы и стадии'],
  user: ['users', 'пользователей'],
  event: ['events', 'события'],
  type: ['smart processes', 'смарт-процессы'],
  category: ['pipelines', 'воронки'],
  product: ['products', 'товары'],
};

/** Whole methods whose generic words would read badly. */
const METHODS: Record<string, [string, string]> = {
  'im.notify.system.add': ['notify', 'уведомить'],
  'im.notify.personal.add': ['notify', 'уведомить'],
  'im.message.add': ['send a chat message', 'отправить сообщение в чат'],
};

/**
 * A Bitrix24 REST method in a few words: its last segment as the verb, the middle segments as the entity
 * (`crm.lead.update` → update leads; `user.get` → read users); `crm.item.*` with a literal `entityTypeId` names the
 * record kind. An unknown verb falls back to the method name.
 * @param method a REST method name (`crm.deal.list`)
 * @param params the step's params; only a literal `entityTypeId` is read
 * @returns the words, ru with the noun in the accusative (`изменить лиды`)
 */
export function methodWords(method: string, params: unknown, lang: 'en' | 'ru'): string {
  const i = lang === 'ru' ? 1 : 0;
  const fixed = METHODS[method];
  if (fixed) return fixed[i];
  const segs = method.split('.');
  const verb = VERBS[segs[segs.length - 1] ?? ''];
  if (!verb || segs.length < 2) return method;
  let entity = (segs.length > 2 ? segs.slice(1, -1) : segs.slice(0, 1)).join(' ');
  const typeId =
    typeof params === 'object' && params !== null ? (params as { entityTypeId?: unknown }).entityTypeId : undefined;
  if (entity === 'item' && typeof typeId === 'number' && KIND_OF_TYPE[typeId]) entity = KIND_OF_TYPE[typeId];
  const noun = NOUNS[entity]?.[i] ?? plural(entity);
  return `${verb[i]} ${noun}`;
}

/** English plural of the last word (`timeline comment` → `timeline comments`, `company` → `companies`). */
function plural(words: string): string {
  if (/[^aeiou]y$/.test(words)) return `${words.slice(0, -1)}ies`;
  if (/(s|x|ch|sh)$/.test(words)) return `${words}es`;
  return `${words}s`;
}
