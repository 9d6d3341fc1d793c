/** A small in-memory catalog for unit tests of the pure parts (the real catalog is used by the CLI tests). */
import type { MethodEntry } from '../../src/generated/catalog-pack.js';
import { catalogFrom } from '../../src/pipeline/catalog.js';

const m = (e: Partial<MethodEntry> & { name: string }): MethodEntry => ({
  scope: 'crm',
  risk: 'read',
  auth: 'any',
  batchable: true,
  ...e,
});

const listSem = { wrapper: null, id_field: 'ID', start_minus_one: true };

export const testCatalog = catalogFrom([
  {
    name: 'core',
    scopes: ['crm', 'task', 'user'],
    methods: [
      m({
        name: 'crm.deal.list',
        entity: 'deal',
        list: listSem,
        params: [
          { name: 'filter', type: 'object', required: false, dynamic: true },
          { name: 'select', type: 'array', required: false },
          { name: 'order', type: 'object', required: false, dynamic: true },
        ],
      }),
      m({ name: 'crm.deal.get', entity: 'deal', params: [{ name: 'id', type: 'integer', required: true }] }),
      m({
        name: 'crm.deal.add',
        risk: 'write',
        canary: true,
        entity: 'deal',
        risk_fields: ['OPPORTUNITY', 'ASSIGNED_BY_ID', 'STAGE_ID'],
        params: [
          {
            name: 'fields',
            type: 'object',
            required: true,
            fields: [
              { name: 'TITLE', type: 'string', required: true },
              { name: 'OPPORTUNITY', type: 'number', required: false },
              { name: 'ORIGIN_ID', type: 'string', required: false },
            ],
            dynamic: true,
          },
        ],
        done: {
          en: { one: 'Created {n} deal', other: 'Created {n} deals' },
          ru: {
            one: 'Создана {n} сделка',
            few: 'Создано {n} сделки',
            many: 'Создано {n} сделок',
            other: 'Создано {n} сделки',
          },
        },
      }),
      m({
        name: 'crm.deal.update',
        risk: 'write',
        entity: 'deal',
        risk_fields: ['STAGE_ID'],
        params: [
          { name: 'id', type: 'integer', required: true },
          { name: 'fields', type: 'object', required: true, dynamic: true },
        ],
        done: {
          en: { one: 'Updated {n} deal', other: 'Updated {n} deals' },
          ru: {
            one: 'Обновлена {n} сделка',
            few: 'Обновлено {n} сделки',
            many: 'Обновлено {n} сделок',
            other: 'Обновлено {n} сделки',
          },
        },
      }),
      m({
        name: 'crm.deal.delete',
        risk: 'destructive',
        entity: 'deal',
        params: [{ name: 'id', type: 'integer', required: true }],
      }),
      m({
        name: 'tasks.task.add',
        scope: 'task',
        risk: 'write',
        canary: true,
        entity: 'task',
        params: [
          {
            name: 'fields',
            type: 'object',
            required: true,
            dynamic: true,
            fields: [
              { name: 'TITLE', type: 'string', required: true },
              { name: 'RESPONSIBLE_ID', type: 'integer', required: true },
            ],
          },
        ],
        done: {
          en: { one: 'Created {n} task', other: 'Created {n} tasks' },
          ru: {
            one: 'Создана {n} задача',
            few: 'Создано {n} задачи',
            many: 'Создано {n} задач',
            other: 'Создано {n} задачи',
          },
        },
      }),
      m({
        // a create the catalog does not flag as canary-safe
        name: 'crm.contact.add',
        risk: 'write',
        entity: 'contact',
        params: [{ name: 'fields', type: 'object', required: true, dynamic: true }],
        done: {
          en: { one: 'Created {n} contact', other: 'Created {n} contacts' },
          ru: {
            one: 'Создан {n} контакт',
            few: 'Создано {n} контакта',
            many: 'Создано {n} контактов',
            other: 'Создано {n} контакта',
          },
        },
      }),
      m({
        name: 'batch',
        scope: 'basic',
        risk: 'read',
        risk_from_commands: true,
        batchable: false,
        entity: 'batch',
        params: [
          { name: 'halt', type: 'integer', required: false },
          { name: 'cmd', type: 'object', required: true, dynamic: true },
        ],
      }),
      m({
        name: 'user.get',
        scope: 'user',
        entity: 'user',
        list: listSem,
        params: [{ name: 'filter', type: 'object', required: false, dynamic: true }],
      }),
      m({ name: 'placement.bind', scope: 'placement', risk: 'write', auth: 'app', entity: 'placement', params: [] }),
    ],
  },
  {
    name: 'commerce',
    scopes: ['sale'],
    methods: [m({ name: 'sale.order.list', scope: 'sale', entity: 'order', list: listSem })],
  },
]);
