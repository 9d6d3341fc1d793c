/**
 * The reference lists a new Russian-language portal starts with, as crm.status.list and crm.category.list show
 * them: deal pipelines and their stages (with colors and semantics), lead statuses, sources, contact/company/deal
 * types, industries, employee counts, honorifics. Data only. Sources: apidocs.bitrix24.com/api-reference/crm/
 * status/crm-status-list.html, api-reference/crm/universal/category/crm-category-list.html (b24-spec
 * spec/index.json maps each method to its page; dataset.json has a sample portal).
 */
/** Stages per deal pipeline: [code suffix, name, color, semantics]. */
export const STAGES: [string, string, string, string | null][] = [
  ['NEW', 'Новая', '#39A8EF', null],
  ['PREPARATION', 'Подготовка документов', '#2FC6F6', null],
  ['PREPAYMENT_INVOICE', 'Счёт на предоплату', '#55D0E0', null],
  ['EXECUTING', 'В работе', '#47E4C2', null],
  ['FINAL_INVOICE', 'Финальный счёт', '#FFA900', null],
  ['WON', 'Сделка успешна', '#7BD500', 'S'],
  ['LOSE', 'Сделка провалена', '#FF5752', 'F'],
];
/** The deal pipelines of a new portal (ID 0 is the default one). */
export const CATEGORIES = [
  { ID: 0, NAME: 'Общая', SORT: 100, IS_DEFAULT: 'Y' },
  { ID: 1, NAME: 'Продажа оборудования', SORT: 200, IS_DEFAULT: 'N' },
  { ID: 2, NAME: 'Сервисное обслуживание', SORT: 300, IS_DEFAULT: 'N' },
];
/** Lead statuses: [STATUS_ID, name, semantics]. */
export const LEAD_STATUSES: [string, string, string | null][] = [
  ['NEW', 'Не обработан', null],
  ['IN_PROCESS', 'В работе', null],
  ['PROCESSED', 'Обработан', null],
  ['CONVERTED', 'Качественный лид', 'S'],
  ['JUNK', 'Некачественный лид', 'F'],
];
/** The other crm.status reference lists (ENTITY_ID → [STATUS_ID, name]). */
export const REFS: Record<string, [string, string][]> = {
  SOURCE: [
    ['CALL', 'Звонок'],
    ['EMAIL', 'Электронная почта'],
    ['WEB', 'Веб-сайт'],
    ['ADVERTISING', 'Реклама'],
    ['PARTNER', 'Существующий клиент'],
    ['RECOMMENDATION', 'По рекомендации'],
    ['TRADE_SHOW', 'Выставка'],
    ['OTHER', 'Другое'],
  ],
  DEAL_TYPE: [
    ['SALE', 'Продажа'],
    ['COMPLEX', 'Комплексная продажа'],
    ['GOODS', 'Продажа товара'],
    ['SERVICES', 'Продажа услуги'],
    ['SERVICE', 'Сервисное обслуживание'],
  ],
  CONTACT_TYPE: [
    ['CLIENT', 'Клиенты'],
    ['SUPPLIER', 'Поставщики'],
    ['PARTNER', 'Партнёры'],
    ['OTHER', 'Другое'],
  ],
  COMPANY_TYPE: [
    ['CUSTOMER', 'Клиент'],
    ['SUPPLIER', 'Поставщик'],
    ['COMPETITOR', 'Конкурент'],
    ['PARTNER', 'Партнёр'],
    ['OTHER', 'Другое'],
  ],
  INDUSTRY: [
    ['IT', 'Информационные технологии'],
    ['TELECOM', 'Телекоммуникации и связь'],
    ['MANUFACTURING', 'Производство'],
    ['BANKING', 'Банковские услуги'],
    ['CONSULTING', 'Консалтинг'],
    ['DELIVERY', 'Доставка'],
    ['ENTERTAINMENT', 'Развлечения'],
    ['OTHER', 'Другое'],
  ],
  EMPLOYEES: [
    ['EMPLOYEES_1', 'менее 50'],
    ['EMPLOYEES_2', '50-250'],
    ['EMPLOYEES_3', '250-500'],
    ['EMPLOYEES_4', 'более 500'],
  ],
  HONORIFIC: [
    ['HNR_RU_1', 'г-н'],
    ['HNR_RU_2', 'г-жа'],
  ],
};
