/**
 * Deterministic realistic portal data. Names, companies, products and texts come from @faker-js/faker
 * (seeded; Russian with an English share) drawn once into small pools; the bulk rows (deals at 10^5–10^6)
 * are then assembled from those pools with a fast seeded PRNG so `--size 100000` builds in well under a second.
 * The reference lists (stages, lead statuses, sources, …) come from referenceLists.ts; the rows' fields follow
 * entities.ts (apidocs.bitrix24.com/api-reference/crm/deals/crm-deal-fields.html and the other `*.fields` pages).
 */
import { faker as fakerEn } from '@faker-js/faker/locale/en';
import { faker as fakerRu } from '@faker-js/faker/locale/ru';
import type { Portal } from './portal.js';
import { prng } from './prng.js';
import { CATEGORIES, LEAD_STATUSES, REFS, STAGES } from './referenceLists.js';
import { seedCrmTypes } from './seedCrmTypes.js';
import { seedStaff } from './seedStaff.js';
import type { Row } from './store.js';

/** Number of rows per table for a deal count. */
export function sizesFor(deals: number) {
  const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, Math.round(v)));
  return {
    deals,
    users: clamp(10 + deals / 2000, 12, 60),
    contacts: clamp(deals / 2, 60, 20_000),
    companies: clamp(deals / 5, 25, 5_000),
    leads: clamp(deals / 2, 60, 20_000),
    activities: clamp(deals, 80, 20_000),
    comments: clamp(deals / 4, 30, 5_000),
    tasks: clamp(deals / 4, 40, 10_000),
    groups: 8,
  };
}

const DAY = 86_400_000;

/** Builds every table of a fresh portal. `now` anchors all generated dates (sandbox clock, ms). */
export function seedPortal(p: Portal, seed: number, deals: number, nowMs: number): void {
  const n = sizesFor(deals);
  // dates are relative to the start of the current day, so one seed gives the same portal all day long
  const now = Math.floor(nowMs / DAY) * DAY;
  // the per-locale singletons load ~10x faster than the all-locales entry; generation is synchronous, so
  // seeding them here makes the pools deterministic whatever else used them before
  const fr = fakerRu;
  const fe = fakerEn;
  fr.seed(seed);
  fe.seed(seed + 1);
  const rnd = prng(seed * 7919 + 17);
  const pickOf = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pool = (k: number, f: () => string) => Array.from({ length: k }, f);
  const firstM = pool(60, () => fr.person.firstName('male'));
  const firstF = pool(60, () => fr.person.firstName('female'));
  const lastM = pool(120, () => fr.person.lastName('male'));
  const lastF = pool(120, () => fr.person.lastName('female'));
  const enFirst = pool(40, () => fe.person.firstName());
  const enLast = pool(60, () => fe.person.lastName());
  const cities = pool(40, () => fr.location.city());
  const companiesRu = pool(150, () => fr.company.name());
  const companiesEn = pool(80, () => fe.company.name());
  const products = pool(120, () => fr.commerce.productName());
  const productsEn = pool(60, () => fe.commerce.productName());
  const jobs = pool(30, () => fr.person.jobTitle());
  const sentences = pool(80, () => fr.lorem.sentence());
  const words = pool(60, () => fr.lorem.word());
  const domains = pool(40, () => fe.internet.domainName());
  const mfId = () => ++p.counters.multifield;
  const person = (i: number) => {
    const english = i % 5 === 0;
    const female = rnd() < 0.5;
    const name = english ? pickOf(enFirst) : pickOf(female ? firstF : firstM);
    const last = english ? pickOf(enLast) : pickOf(female ? lastF : lastM);
    return { name, last, female };
  };
  const phone = () => '+7' + int(900, 999) + String(int(0, 9_999_999)).padStart(7, '0');
  const ago = (maxDays: number) => now - Math.floor(rnd() * maxDays * DAY);

  // departments
  const deptNames = ['Компания', 'Отдел продаж', 'Маркетинг', 'Служба поддержки', 'Бухгалтерия', 'Разработка'];
  deptNames.forEach((name, i) => {
    p.t.department.insert({
      ID: i + 1,
      NAME: name,
      SORT: 500,
      PARENT: i === 0 ? null : 1,
      UF_HEAD: i === 0 ? 1 : null,
    });
  });
  // users
  for (let i = 1; i <= n.users; i++) {
    const who = person(i + 1);
    const login = `user${i}`;
    p.t.user.insert({
      ID: i,
      XML_ID: null,
      ACTIVE: i % 17 !== 0,
      NAME: i === 1 ? 'Анна' : who.name,
      LAST_NAME: i === 1 ? 'Смирнова' : who.last,
      SECOND_NAME: '',
      EMAIL: `${login}@${domains[0]}`,
      LAST_LOGIN: ago(10),
      DATE_REGISTER: ago(900),
      TIME_ZONE: '',
      IS_ONLINE: rnd() < 0.3 ? 'Y' : 'N',
      TIME_ZONE_OFFSET: '0',
      PERSONAL_GENDER: i === 1 || who.female ? 'F' : 'M',
      PERSONAL_BIRTHDAY: null,
      PERSONAL_MOBILE: phone(),
      PERSONAL_CITY: pickOf(cities),
      WORK_PHONE: '',
      WORK_POSITION: i === 1 ? 'Директор' : pickOf(jobs),
      UF_EMPLOYMENT_DATE: null,
      UF_DEPARTMENT: [i === 1 ? 1 : 2 + (i % 5)],
      UF_PHONE_INNER: String(100 + i),
      USER_TYPE: 'employee',
    });
  }
  const userIds = p.t.user.rows.filter((u) => u.ACTIVE).map((u) => u.ID as number);
  const manager = () => pickOf(userIds);

  // statuses: deal stages per pipeline, lead statuses, reference lists
  for (const c of CATEGORIES) {
    p.t.category.insert({ ...c, ENTITY_TYPE_ID: 2, ORIGIN_ID: '', ORIGINATOR_ID: '' });
    STAGES.forEach(([code, name, color, sem], i) => {
      if (c.ID > 0 && (code === 'PREPAYMENT_INVOICE' || code === 'FINAL_INVOICE')) return;
      p.addStatus(
        c.ID === 0 ? 'DEAL_STAGE' : `DEAL_STAGE_${c.ID}`,
        c.ID === 0 ? code : `C${c.ID}:${code}`,
        name,
        (i + 1) * 10,
        color,
        sem,
        c.ID,
      );
    });
  }
  LEAD_STATUSES.forEach(([code, name, sem], i) => {
    p.addStatus(
      'STATUS',
      code,
      name,
      (i + 1) * 10,
      ['#39A8EF', '#2FC6F6', '#55D0E0', '#7BD500', '#FF5752'][i]!,
      sem,
      null,
    );
  });
  for (const [entity, list] of Object.entries(REFS)) {
    list.forEach(([code, name], i) => {
      p.addStatus(entity, code, name, (i + 1) * 10, null, null, null);
    });
  }
  p.ufAdd({
    ENTITY_ID: 'CRM_DEAL',
    FIELD_NAME: 'UF_CRM_1700000000001',
    USER_TYPE_ID: 'string',
    EDIT_FORM_LABEL: { ru: 'Канал продаж', en: 'Sales channel' },
  });
  p.ufAdd({
    ENTITY_ID: 'CRM_DEAL',
    FIELD_NAME: 'UF_CRM_1700000000002',
    USER_TYPE_ID: 'double',
    EDIT_FORM_LABEL: { ru: 'Маржа', en: 'Margin' },
  });
  p.ufAdd({
    ENTITY_ID: 'CRM_CONTACT',
    FIELD_NAME: 'UF_CRM_1700000000003',
    USER_TYPE_ID: 'string',
    EDIT_FORM_LABEL: { ru: 'Telegram', en: 'Telegram' },
  });
  p.ufAdd({
    ENTITY_ID: 'CRM_LEAD',
    FIELD_NAME: 'UF_CRM_1700000000004',
    USER_TYPE_ID: 'string',
    EDIT_FORM_LABEL: { ru: 'Форма', en: 'Form' },
  });

  // companies
  for (let i = 1; i <= n.companies; i++) {
    const en = i % 3 === 0;
    const created = ago(700);
    const dom = pickOf(domains);
    p.t.company.insert({
      ID: i,
      TITLE: en ? pickOf(companiesEn) : pickOf(companiesRu),
      COMPANY_TYPE: pickOf(REFS.COMPANY_TYPE!)[0],
      INDUSTRY: pickOf(REFS.INDUSTRY!)[0],
      EMPLOYEES: pickOf(REFS.EMPLOYEES!)[0],
      REVENUE: int(1, 900) * 100_000,
      CURRENCY_ID: 'RUB',
      COMMENTS: '',
      OPENED: 'Y',
      IS_MY_COMPANY: i === 1 ? 'Y' : 'N',
      HAS_PHONE: 'Y',
      HAS_EMAIL: 'Y',
      HAS_IMOL: 'N',
      ASSIGNED_BY_ID: manager(),
      CREATED_BY_ID: 1,
      MODIFY_BY_ID: 1,
      DATE_CREATE: created,
      DATE_MODIFY: created + Math.floor(rnd() * 30 * DAY),
      ADDRESS_CITY: pickOf(cities),
      PHONE: [{ ID: mfId(), VALUE_TYPE: 'WORK', VALUE: phone() }],
      EMAIL: [{ ID: mfId(), VALUE_TYPE: 'WORK', VALUE: `info${i}@${dom}` }],
      WEB: [{ ID: mfId(), VALUE_TYPE: 'WORK', VALUE: `https://${dom}` }],
    });
  }
  // contacts
  for (let i = 1; i <= n.contacts; i++) {
    const who = person(i);
    const created = ago(700);
    const comp = rnd() < 0.7 ? int(1, n.companies) : null;
    p.t.contact.insert({
      ID: i,
      HONORIFIC: null,
      NAME: who.name,
      SECOND_NAME: '',
      LAST_NAME: who.last,
      TYPE_ID: pickOf(REFS.CONTACT_TYPE!)[0],
      SOURCE_ID: pickOf(REFS.SOURCE!)[0],
      POST: pickOf(jobs),
      COMMENTS: '',
      OPENED: 'Y',
      EXPORT: 'Y',
      HAS_PHONE: 'Y',
      HAS_EMAIL: 'Y',
      HAS_IMOL: 'N',
      ASSIGNED_BY_ID: manager(),
      CREATED_BY_ID: 1,
      MODIFY_BY_ID: 1,
      DATE_CREATE: created,
      DATE_MODIFY: created + Math.floor(rnd() * 30 * DAY),
      COMPANY_ID: comp,
      COMPANY_IDS: comp ? [comp] : [],
      ADDRESS_CITY: pickOf(cities),
      PHONE: [{ ID: mfId(), VALUE_TYPE: rnd() < 0.5 ? 'WORK' : 'MOBILE', VALUE: phone() }],
      EMAIL: [{ ID: mfId(), VALUE_TYPE: 'WORK', VALUE: `contact${i}@${pickOf(domains)}` }],
      UF_CRM_1700000000003: rnd() < 0.3 ? '@' + pickOf(words) + i : null,
    });
  }
  // leads
  for (let i = 1; i <= n.leads; i++) {
    const who = person(i + 3);
    const created = ago(365);
    const st = pickOf(LEAD_STATUSES);
    p.t.lead.insert({
      ID: i,
      TITLE: `${pickOf(products)} — ${who.name} ${who.last}`,
      NAME: who.name,
      SECOND_NAME: '',
      LAST_NAME: who.last,
      COMPANY_TITLE: rnd() < 0.5 ? pickOf(companiesRu) : '',
      IS_RETURN_CUSTOMER: 'N',
      SOURCE_ID: pickOf(REFS.SOURCE!)[0],
      STATUS_ID: st[0],
      STATUS_SEMANTIC_ID: st[2] ?? 'P',
      CURRENCY_ID: 'RUB',
      OPPORTUNITY: int(0, 500) * 1000,
      IS_MANUAL_OPPORTUNITY: 'N',
      OPENED: 'Y',
      COMMENTS: '',
      HAS_PHONE: 'Y',
      HAS_EMAIL: 'Y',
      HAS_IMOL: 'N',
      ASSIGNED_BY_ID: manager(),
      CREATED_BY_ID: 1,
      MODIFY_BY_ID: 1,
      DATE_CREATE: created,
      DATE_MODIFY: created + Math.floor(rnd() * 20 * DAY),
      ADDRESS_CITY: pickOf(cities),
      PHONE: [{ ID: mfId(), VALUE_TYPE: 'WORK', VALUE: phone() }],
      EMAIL: [{ ID: mfId(), VALUE_TYPE: 'WORK', VALUE: `lead${i}@${pickOf(domains)}` }],
    });
  }
  // deals: the bulk table, assembled without faker calls per row
  const stageSets = CATEGORIES.map((c) =>
    STAGES.filter(([code]) => c.ID === 0 || (code !== 'PREPAYMENT_INVOICE' && code !== 'FINAL_INVOICE')).map(
      ([code, , , sem]) => [c.ID === 0 ? code : `C${c.ID}:${code}`, sem ?? 'P'] as const,
    ),
  );
  const types = REFS.DEAL_TYPE!.map((x) => x[0]);
  const sources = REFS.SOURCE!.map((x) => x[0]);
  const channels = ['Сайт', 'Телефон', 'Партнёр', 'Выставка', null];
  const dealRows: Row[] = new Array(deals);
  for (let i = 1; i <= deals; i++) {
    const cat = rnd() < 0.7 ? 0 : rnd() < 0.6 ? 1 : 2;
    const stages = stageSets[cat]!;
    const [stage, sem] = stages[Math.floor(rnd() * stages.length)]!;
    const created = ago(730);
    const modified = created + Math.floor(rnd() * 60 * DAY);
    const closed = sem !== 'P';
    const contact = rnd() < 0.8 ? 1 + Math.floor(rnd() * n.contacts) : null;
    const who = Math.floor(rnd() * userIds.length);
    dealRows[i - 1] = {
      ID: i,
      TITLE: (i % 4 === 0 ? productsEn[i % productsEn.length] : products[i % products.length]) + ' #' + i,
      TYPE_ID: types[i % types.length],
      CATEGORY_ID: cat,
      STAGE_ID: stage,
      STAGE_SEMANTIC_ID: sem,
      IS_NEW: stage.endsWith('NEW') ? 'Y' : 'N',
      IS_RECURRING: 'N',
      IS_RETURN_CUSTOMER: 'N',
      IS_REPEATED_APPROACH: 'N',
      PROBABILITY: null,
      CURRENCY_ID: 'RUB',
      OPPORTUNITY: Math.floor(rnd() * 2000) * 500,
      IS_MANUAL_OPPORTUNITY: 'N',
      TAX_VALUE: 0,
      COMPANY_ID: rnd() < 0.6 ? 1 + Math.floor(rnd() * n.companies) : 0,
      CONTACT_ID: contact,
      CONTACT_IDS: contact ? [contact] : [],
      BEGINDATE: created,
      CLOSEDATE: created + 14 * DAY,
      OPENED: 'Y',
      CLOSED: closed ? 'Y' : 'N',
      COMMENTS: '',
      ASSIGNED_BY_ID: userIds[who],
      CREATED_BY_ID: userIds[(who + 1) % userIds.length],
      MODIFY_BY_ID: userIds[who],
      DATE_CREATE: created,
      DATE_MODIFY: modified,
      SOURCE_ID: sources[i % sources.length],
      // a deal made in the portal's form keeps an empty text as "" (crm-item-update.md's example)
      SOURCE_DESCRIPTION: '',
      MOVED_BY_ID: userIds[who],
      MOVED_TIME: modified,
      UF_CRM_1700000000001: channels[i % channels.length],
      UF_CRM_1700000000002: null,
    };
  }
  p.t.deal.load(dealRows, deals + 1);

  // activities and timeline comments on deals
  for (let i = 1; i <= n.activities; i++) {
    const start = ago(200);
    const done = rnd() < 0.6;
    p.t.activity.insert({
      ID: i,
      OWNER_ID: 1 + Math.floor(rnd() * Math.max(1, deals)),
      OWNER_TYPE_ID: 2,
      TYPE_ID: pickOf([1, 2, 4, 6]),
      PROVIDER_ID: 'CRM_TODO',
      PROVIDER_TYPE_ID: 'TODO',
      ASSOCIATED_ENTITY_ID: 0,
      SUBJECT: pickOf(sentences),
      CREATED: start,
      LAST_UPDATED: start,
      START_TIME: start,
      END_TIME: start + 3_600_000,
      DEADLINE: start + DAY,
      COMPLETED: done ? 'Y' : 'N',
      STATUS: done ? 2 : 1,
      RESPONSIBLE_ID: manager(),
      PRIORITY: 2,
      DESCRIPTION: pickOf(sentences),
      DESCRIPTION_TYPE: 1,
      DIRECTION: 0,
      LOCATION: '',
      SETTINGS: [],
      AUTHOR_ID: 1,
      EDITOR_ID: 1,
    });
  }
  for (let i = 1; i <= n.comments; i++) {
    p.t.timeline_comment.insert({
      ID: i,
      ENTITY_ID: 1 + Math.floor(rnd() * Math.max(1, deals)),
      ENTITY_TYPE: 'deal',
      CREATED: ago(200),
      COMMENT: pickOf(sentences),
      AUTHOR_ID: manager(),
      FILES: null,
    });
  }
  // workgroups + members
  const groupNames = [
    'Внедрение CRM',
    'Маркетинг Q3',
    'Запуск сайта',
    'Поддержка клиентов',
    'Partner Program',
    'Закупки',
    'HR onboarding',
    'Мобильное приложение',
  ];
  groupNames.slice(0, n.groups).forEach((name, i) => {
    const owner = manager();
    const created = ago(500);
    const members = new Set<number>([owner]);
    while (members.size < 3 + (i % 5)) members.add(manager());
    p.t.workgroup.insert({
      ID: i + 1,
      SITE_ID: 's1',
      NAME: name,
      DESCRIPTION: pickOf(sentences),
      DATE_CREATE: created,
      DATE_UPDATE: created,
      ACTIVE: 'Y',
      VISIBLE: 'Y',
      OPENED: i % 3 === 0 ? 'N' : 'Y',
      CLOSED: 'N',
      SUBJECT_ID: 1,
      OWNER_ID: owner,
      KEYWORDS: null,
      NUMBER_OF_MEMBERS: members.size,
      DATE_ACTIVITY: ago(10),
      SUBJECT_NAME: 'Рабочие группы',
      PROJECT: i % 2 === 0 ? 'Y' : 'N',
      IS_EXTRANET: 'N',
    });
    let k = 0;
    for (const u of members)
      p.t.workgroup_member.insert({ GROUP_ID: i + 1, USER_ID: u, ROLE: k++ === 0 ? 'A' : k === 2 ? 'E' : 'K' });
  });
  // tasks + comments + checklists
  const taskTitles = [
    'Подготовить КП',
    'Созвониться с клиентом',
    'Выставить счёт',
    'Согласовать договор',
    'Провести демонстрацию',
    'Проверить отгрузку',
    'Update the price list',
    'Prepare the QBR deck',
  ];
  for (let i = 1; i <= n.tasks; i++) {
    const created = ago(300);
    const status = pickOf([2, 2, 3, 3, 5, 4, 6]);
    const resp = manager();
    const creator = manager();
    const deal = deals ? 1 + Math.floor(rnd() * deals) : null;
    p.t.task.insert({
      ID: i,
      PARENT_ID: null,
      TITLE: pickOf(taskTitles) + (deal ? ` (сделка #${deal})` : ''),
      DESCRIPTION: pickOf(sentences),
      MARK: null,
      PRIORITY: pickOf([0, 1, 1, 2]),
      STATUS: status,
      MULTITASK: 'N',
      NOT_VIEWED: 'N',
      REPLICATE: 'N',
      GROUP_ID: rnd() < 0.3 ? int(1, n.groups) : 0,
      STAGE_ID: 0,
      CREATED_BY: creator,
      CREATED_DATE: created,
      RESPONSIBLE_ID: resp,
      ACCOMPLICES: [],
      AUDITORS: rnd() < 0.3 ? [creator] : [],
      CHANGED_BY: creator,
      CHANGED_DATE: created + DAY,
      STATUS_CHANGED_DATE: created + DAY,
      CLOSED_BY: status === 5 ? resp : null,
      CLOSED_DATE: status === 5 ? created + 3 * DAY : null,
      ACTIVITY_DATE: created + DAY,
      DATE_START: null,
      DEADLINE: rnd() < 0.7 ? created + int(2, 40) * DAY : null,
      START_DATE_PLAN: null,
      END_DATE_PLAN: null,
      ALLOW_CHANGE_DEADLINE: 'Y',
      TASK_CONTROL: 'N',
      TIME_ESTIMATE: int(0, 8) * 3600,
      DESCRIPTION_IN_BBCODE: 'Y',
      UF_CRM_TASK: deal ? ['D_' + deal] : [],
      TAGS: [],
    });
    if (i % 3 === 0) {
      p.t.task_comment.insert({
        TASK_ID: i,
        AUTHOR_ID: resp,
        POST_DATE: created + DAY,
        POST_MESSAGE: pickOf(sentences),
      });
    }
    if (i % 4 === 0) {
      for (let k = 0; k < 3; k++) {
        p.t.checklist_item.insert({
          TASK_ID: i,
          PARENT_ID: 0,
          CREATED_BY: creator,
          TITLE: pickOf(words) + ' ' + pickOf(words),
          SORT_INDEX: k,
          IS_COMPLETE: k === 0 ? 'Y' : 'N',
          IS_IMPORTANT: 'N',
          TOGGLED_BY: null,
          TOGGLED_DATE: null,
          MEMBERS: [],
          ATTACHMENTS: [],
        });
      }
    }
  }
  // a few chat messages and notifications
  for (let i = 1; i <= 20; i++) {
    p.t.im_message.insert({
      CHAT_ID: 1 + (i % 3),
      DIALOG_ID: 'chat' + (1 + (i % 3)),
      AUTHOR_ID: manager(),
      DATE: ago(5),
      MESSAGE: pickOf(sentences),
      SYSTEM: 'N',
    });
  }
  for (let i = 1; i <= 5; i++) {
    p.t.notification.insert({
      USER_ID: 1,
      MESSAGE: pickOf(sentences),
      TAG: '',
      SUB_TAG: '',
      TYPE: 'system',
      DATE: ago(5),
    });
  }
  // departments' heads, more staff, CRM user fields, smart processes: their own generators or none, so the rows above
  // stay as they are
  seedStaff(p, seed, n.users, now);
  seedCrmTypes(p, now, userIds);
}
