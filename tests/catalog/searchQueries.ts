/**
 * Russian and English search queries with the methods a person means by them: the yardstick of `catalog search`
 * (tests/catalog/search.test.ts requires each expected method in the top 3).
 */

/** One query: `expect` lists acceptable methods (any one in the top 3 counts as a hit). */
export interface SearchCase {
  query: string;
  expect: string[];
}

export const SEARCH_CASES: SearchCase[] = [
  { query: 'удалить сделку', expect: ['crm.deal.delete'] },
  { query: 'завершить задачу', expect: ['tasks.task.complete'] },
  { query: 'найти дубликаты по телефону', expect: ['crm.duplicate.findbycomm'] },
  { query: 'отправить сообщение', expect: ['im.message.add', 'im.notify.system.add', 'im.notify.personal.add'] },
  { query: 'deleting deals', expect: ['crm.deal.delete'] },
  { query: 'completed tasks', expect: ['tasks.task.complete'] },
  { query: 'delete deal', expect: ['crm.deal.delete'] },
  { query: 'complete task', expect: ['tasks.task.complete'] },
  { query: 'find duplicates by phone', expect: ['crm.duplicate.findbycomm'] },
  { query: 'send chat message', expect: ['im.message.add'] },
  { query: 'создать сделку', expect: ['crm.deal.add'] },
  { query: 'создать задачу', expect: ['tasks.task.add'] },
  { query: 'create lead', expect: ['crm.lead.add'] },
  { query: 'обновить контакт', expect: ['crm.contact.update'] },
  { query: 'update deal', expect: ['crm.deal.update'] },
  { query: 'список задач', expect: ['tasks.task.list'] },
  { query: 'список сделок', expect: ['crm.deal.list'] },
  { query: 'список пользователей', expect: ['user.get'] },
  { query: 'загрузить файл', expect: ['disk.folder.uploadFile'] },
  { query: 'upload file', expect: ['disk.folder.uploadFile'] },
  { query: 'удалить файл', expect: ['disk.file.delete'] },
  { query: 'переместить файл', expect: ['disk.file.moveTo'] },
  { query: 'добавить комментарий к задаче', expect: ['task.commentitem.add'] },
  { query: 'запустить бизнес-процесс', expect: ['bizproc.workflow.start'] },
  { query: 'start workflow', expect: ['bizproc.workflow.start'] },
  { query: 'уведомление пользователю', expect: ['im.notify.system.add'] },
  { query: 'crm.deal.add', expect: ['crm.deal.add'] },
];
