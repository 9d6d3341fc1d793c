/**
 * The richer part of the seed, run after seed.ts has built every table: sub-departments and a head for each
 * department, more employees (at least 56 users in all) with every key `user.get` documents (`TIMESTAMP_X`,
 * `LAST_ACTIVITY_DATE`, `PERSONAL_WWW`, …), and user fields on deals, contacts and companies (enumeration, date,
 * boolean, url, money) with values. It draws from its own seeded generators, so the rows seed.ts made (deals,
 * tasks, their responsible users, the counts tests and benches rely on) are the same as without it; the CRM rows
 * are still assigned only to the first users. Sources: apidocs.bitrix24.com/api-reference/user/user-get.html,
 * api-reference/departments/department-get.html, api-reference/crm/deals/user-defined-fields/
 * crm-deal-userfield-add.html.
 */
import { faker as fakerEn } from '@faker-js/faker/locale/en';
import { faker as fakerRu } from '@faker-js/faker/locale/ru';
import type { Portal } from './portal.js';
import { prng } from './prng.js';

const DAY = 86_400_000;

/** Sub-departments: [name, parent]. Departments 1–6 come from seed.ts. */
const SUB_DEPARTMENTS: [string, number][] = [
  ['Продажи: Москва', 2],
  ['Продажи: регионы', 2],
  ['Контент и SMM', 3],
  ['Тестирование', 6],
  ['Инфраструктура', 6],
];

/** The fewest users a seeded portal has. */
export const MIN_USERS = 56;

/**
 * Adds departments, staff and CRM user fields to a portal seed.ts has filled. `baseUsers` = the users seed.ts made
 * (ids 1..baseUsers), `now` = start of the seed day (ms).
 */
export function seedStaff(p: Portal, seed: number, baseUsers: number, now: number): void {
  const rnd = prng(seed * 104_729 + 3);
  const pickOf = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  fakerRu.seed(seed + 101);
  fakerEn.seed(seed + 102);
  const firstM = Array.from({ length: 40 }, () => fakerRu.person.firstName('male'));
  const firstF = Array.from({ length: 40 }, () => fakerRu.person.firstName('female'));
  const lastM = Array.from({ length: 60 }, () => fakerRu.person.lastName('male'));
  const lastF = Array.from({ length: 60 }, () => fakerRu.person.lastName('female'));
  const jobs = Array.from({ length: 20 }, () => fakerRu.person.jobTitle());
  const cities = Array.from({ length: 20 }, () => fakerRu.location.city());
  const sites = Array.from({ length: 20 }, () => fakerEn.internet.domainName());

  // departments: sub-departments, then a head for each (the first active member, or user 1)
  for (const [name, parent] of SUB_DEPARTMENTS) {
    p.t.department.insert({ NAME: name, SORT: 500, PARENT: parent, UF_HEAD: null });
  }
  const deptIds = p.t.department.rows.map((d) => d.ID as number).filter((id) => id > 1);
  const domain = String(p.t.user.get(1)?.EMAIL ?? 'user1@example.com').split('@')[1];
  const extra = Math.max(8, MIN_USERS - baseUsers);
  for (let k = 1; k <= extra; k++) {
    const id = baseUsers + k;
    const female = rnd() < 0.5;
    p.t.user.insert({
      ID: id,
      XML_ID: null,
      ACTIVE: k % 13 !== 0,
      NAME: pickOf(female ? firstF : firstM),
      LAST_NAME: pickOf(female ? lastF : lastM),
      SECOND_NAME: '',
      EMAIL: `user${id}@${domain}`,
      LAST_LOGIN: now - Math.floor(rnd() * 20 * DAY),
      DATE_REGISTER: now - Math.floor(rnd() * 900 * DAY),
      TIME_ZONE: rnd() < 0.3 ? 'Europe/Moscow' : '',
      IS_ONLINE: rnd() < 0.3 ? 'Y' : 'N',
      TIME_ZONE_OFFSET: '0',
      PERSONAL_GENDER: female ? 'F' : 'M',
      PERSONAL_BIRTHDAY: rnd() < 0.6 ? now - (20 + Math.floor(rnd() * 40)) * 365 * DAY : null,
      PERSONAL_MOBILE: '+79' + String(Math.floor(rnd() * 1e9)).padStart(9, '0'),
      PERSONAL_CITY: pickOf(cities),
      WORK_PHONE: rnd() < 0.4 ? '+7495' + String(Math.floor(rnd() * 1e7)).padStart(7, '0') : '',
      WORK_POSITION: pickOf(jobs),
      UF_EMPLOYMENT_DATE: rnd() < 0.7 ? now - Math.floor(rnd() * 1500) * DAY : null,
      UF_DEPARTMENT: [deptIds[(k - 1) % deptIds.length]!],
      UF_PHONE_INNER: String(100 + id),
      USER_TYPE: 'employee',
    });
  }
  // every user: the documented keys seed.ts does not set
  for (const u of p.t.user.rows) {
    const h = hash(u.ID as number, seed);
    u.TIMESTAMP_X ??= Math.max(u.DATE_REGISTER ?? now, now - (h % 200) * DAY);
    u.LAST_ACTIVITY_DATE ??= u.ACTIVE ? (u.LAST_LOGIN ?? now) + (h % 3600) * 1000 : (u.LAST_LOGIN ?? null);
    u.PERSONAL_WWW ??= h % 4 === 0 ? `https://${sites[h % sites.length]}` : '';
    u.PERSONAL_BIRTHDAY ??= null;
    u.UF_EMPLOYMENT_DATE ??= u.DATE_REGISTER ?? null;
  }
  for (const d of p.t.department.rows) {
    if (d.UF_HEAD) continue;
    const head = p.t.user.rows.find((u) => u.ACTIVE && (u.UF_DEPARTMENT as number[]).includes(d.ID));
    d.UF_HEAD = head ? head.ID : 1;
  }
  seedUserFields(p, seed);
}

/** A small deterministic hash of an id (no generator draws, so a row's values do not depend on the row count). */
function hash(id: number, seed: number): number {
  let x = (id * 2_654_435_761 + seed * 40_503) >>> 0;
  x ^= x >>> 13;
  x = Math.imul(x, 0x5bd1e995) >>> 0;
  return (x ^ (x >>> 15)) >>> 0;
}

/** User fields on deals, contacts and companies, with values derived from the row id. */
function seedUserFields(p: Portal, seed: number): void {
  const priority = [
    { ID: 101, VALUE: 'Высокий', DEF: 'N', SORT: 10 },
    { ID: 102, VALUE: 'Средний', DEF: 'Y', SORT: 20 },
    { ID: 103, VALUE: 'Низкий', DEF: 'N', SORT: 30 },
  ];
  const channel = [
    { ID: 111, VALUE: 'Телефон', DEF: 'Y', SORT: 10 },
    { ID: 112, VALUE: 'E-mail', DEF: 'N', SORT: 20 },
    { ID: 113, VALUE: 'Мессенджер', DEF: 'N', SORT: 30 },
  ];
  const label = (ru: string, en: string) => ({ ru, en });
  p.ufAdd({
    ENTITY_ID: 'CRM_DEAL',
    FIELD_NAME: 'UF_CRM_1700000000005',
    USER_TYPE_ID: 'enumeration',
    EDIT_FORM_LABEL: label('Приоритет', 'Priority'),
    LIST: priority,
    SORT: 200,
  });
  p.ufAdd({
    ENTITY_ID: 'CRM_DEAL',
    FIELD_NAME: 'UF_CRM_1700000000006',
    USER_TYPE_ID: 'date',
    EDIT_FORM_LABEL: label('Дата подписания', 'Signing date'),
    SORT: 300,
  });
  p.ufAdd({
    ENTITY_ID: 'CRM_DEAL',
    FIELD_NAME: 'UF_CRM_1700000000007',
    USER_TYPE_ID: 'boolean',
    EDIT_FORM_LABEL: label('Тендер', 'Tender'),
    SORT: 400,
  });
  p.ufAdd({
    ENTITY_ID: 'CRM_CONTACT',
    FIELD_NAME: 'UF_CRM_1700000000008',
    USER_TYPE_ID: 'enumeration',
    EDIT_FORM_LABEL: label('Канал связи', 'Preferred channel'),
    LIST: channel,
    SORT: 200,
  });
  p.ufAdd({
    ENTITY_ID: 'CRM_CONTACT',
    FIELD_NAME: 'UF_CRM_1700000000009',
    USER_TYPE_ID: 'date',
    EDIT_FORM_LABEL: label('Первый контакт', 'First contact'),
    SORT: 300,
  });
  p.ufAdd({
    ENTITY_ID: 'CRM_COMPANY',
    FIELD_NAME: 'UF_CRM_1700000000010',
    USER_TYPE_ID: 'string',
    EDIT_FORM_LABEL: label('ИНН', 'Tax ID'),
    SORT: 100,
  });
  p.ufAdd({
    ENTITY_ID: 'CRM_COMPANY',
    FIELD_NAME: 'UF_CRM_1700000000011',
    USER_TYPE_ID: 'url',
    EDIT_FORM_LABEL: label('Сайт', 'Website'),
    SORT: 200,
  });
  p.ufAdd({
    ENTITY_ID: 'CRM_COMPANY',
    FIELD_NAME: 'UF_CRM_1700000000012',
    USER_TYPE_ID: 'money',
    EDIT_FORM_LABEL: label('Кредитный лимит', 'Credit limit'),
    SORT: 300,
  });
  for (const d of p.t.deal.rows) {
    const h = hash(d.ID, seed);
    d.UF_CRM_1700000000005 = priority[h % 3]!.ID;
    d.UF_CRM_1700000000006 = d.STAGE_SEMANTIC_ID === 'S' ? d.MOVED_TIME : null;
    d.UF_CRM_1700000000007 = h % 5 === 0 ? 'Y' : 'N';
  }
  for (const c of p.t.contact.rows) {
    const h = hash(c.ID, seed + 1);
    c.UF_CRM_1700000000008 = h % 4 === 0 ? null : channel[h % 3]!.ID;
    c.UF_CRM_1700000000009 = c.DATE_CREATE ?? null;
  }
  for (const c of p.t.company.rows) {
    const h = hash(c.ID, seed + 2);
    c.UF_CRM_1700000000010 = String(7_700_000_000 + (h % 99_999_999));
    c.UF_CRM_1700000000011 =
      h % 3 === 0 ? null : `https://${String(c.EMAIL?.[0]?.VALUE ?? 'example.com').split('@')[1]}`;
    c.UF_CRM_1700000000012 = h % 2 ? `${(h % 50) * 100_000}|RUB` : null;
  }
}
