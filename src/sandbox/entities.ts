/**
 * Entity field definitions: every table's fields with their legacy upper-case names, doc field types, titles and
 * flags (read-only, required, multiple, status reference), in the order `*.fields` and `*.get` list them; the CRM
 * entities (deal, lead, contact, company) live in crmEntities.ts, the field shapes and constructors in
 * entityFields.ts, how fields are resolved and rendered in fieldViews.ts. Sources: apidocs.bitrix24.com/
 * api-reference/user/user-get.html, api-reference/tasks/tasks-task-get-fields.html (b24-spec spec/index.json maps
 * each method to its page), doc api-reference/data-types.md.
 */
import { COMPANY, CONTACT, DEAL, LEAD } from './crmEntities.js';
import { chr, dt, type EntityDef, idF, str, usr } from './entityFields.js';

/** CRM activity. */
export const ACTIVITY: EntityDef = {
  name: 'activity',
  ufEntityId: 'CRM_ACTIVITY',
  fields: {
    ID: idF(),
    OWNER_ID: { type: 'integer', title: 'Owner ID', req: true },
    OWNER_TYPE_ID: { type: 'integer', title: 'Owner type', req: true },
    TYPE_ID: { type: 'integer', title: 'Type', req: true },
    PROVIDER_ID: str('Provider'),
    PROVIDER_TYPE_ID: str('Provider type'),
    ASSOCIATED_ENTITY_ID: { type: 'integer', title: 'Associated entity' },
    SUBJECT: str('Subject'),
    CREATED: dt('Created', { ro: true }),
    LAST_UPDATED: dt('Updated', { ro: true }),
    START_TIME: dt('Start'),
    END_TIME: dt('End'),
    DEADLINE: dt('Deadline'),
    COMPLETED: chr('Completed'),
    STATUS: { type: 'integer', title: 'Status' },
    RESPONSIBLE_ID: usr('Responsible', { req: true }),
    PRIORITY: { type: 'integer', title: 'Priority' },
    DESCRIPTION: str('Description'),
    DESCRIPTION_TYPE: { type: 'integer', title: 'Description type' },
    DIRECTION: { type: 'integer', title: 'Direction' },
    LOCATION: str('Location'),
    SETTINGS: { type: 'object', title: 'Settings' },
    AUTHOR_ID: usr('Author', { ro: true }),
    EDITOR_ID: usr('Editor', { ro: true }),
    COMMUNICATIONS: { type: 'object', title: 'Communications', multi: true, noStar: true, req: true },
  },
};

/** Timeline comment. */
export const TIMELINE_COMMENT: EntityDef = {
  name: 'timeline_comment',
  fields: {
    ID: idF(),
    ENTITY_ID: { type: 'integer', title: 'Entity ID', req: true },
    ENTITY_TYPE: str('Entity type', { req: true }),
    CREATED: dt('Created', { ro: true }),
    COMMENT: str('Comment', { req: true }),
    AUTHOR_ID: usr('Author'),
    FILES: { type: 'object', title: 'Files' },
  },
};

/** crm.status row. */
export const STATUS: EntityDef = {
  name: 'status',
  fields: {
    ID: idF(),
    ENTITY_ID: str('Entity', { req: true }),
    STATUS_ID: str('Status code', { req: true }),
    NAME: str('Name', { req: true }),
    NAME_INIT: str('Initial name', { ro: true }),
    SORT: { type: 'integer', title: 'Sort' },
    SYSTEM: chr('System', { ro: true }),
    CATEGORY_ID: { type: 'integer', title: 'Pipeline' },
    COLOR: str('Color'),
    SEMANTICS: str('Semantics'),
    EXTRA: { type: 'object', title: 'Extra', ro: true },
  },
};

/**
 * Portal user (user.get view), the keys in the documented order (api-reference/user/user-get.md); the last three
 * are keys portals answer beyond the example. Empty values read `""`, not null (methods/users.ts).
 */
export const USER: EntityDef = {
  name: 'user',
  fields: {
    ID: idF(),
    ACTIVE: { type: 'boolean', title: 'Active' },
    NAME: str('First name'),
    LAST_NAME: str('Last name'),
    SECOND_NAME: str('Second name'),
    EMAIL: str('E-mail'),
    LAST_LOGIN: dt('Last login'),
    DATE_REGISTER: dt('Registered'),
    TIME_ZONE: str('Time zone'),
    IS_ONLINE: chr('Online'),
    TIMESTAMP_X: dt('Changed', { ro: true }),
    LAST_ACTIVITY_DATE: dt('Last activity', { ro: true }),
    PERSONAL_GENDER: str('Gender'),
    PERSONAL_WWW: str('Personal website'),
    PERSONAL_BIRTHDAY: { type: 'date', title: 'Birthday' },
    PERSONAL_MOBILE: str('Mobile'),
    PERSONAL_CITY: str('City'),
    WORK_PHONE: str('Work phone'),
    WORK_POSITION: str('Position'),
    UF_EMPLOYMENT_DATE: { type: 'date', title: 'Employment date' },
    UF_DEPARTMENT: { type: 'int_raw', title: 'Departments', multi: true },
    USER_TYPE: str('User type'),
    XML_ID: str('External ID'),
    TIME_ZONE_OFFSET: str('Time zone offset'),
    UF_PHONE_INNER: str('Extension'),
    // the rest of the profile `user.fields` lists (api-reference/user/user-fields.md); the seed leaves them empty
    TITLE: str('Title'),
    PERSONAL_PROFESSION: str('Profession'),
    PERSONAL_PHOTO: str('Photo'),
    PERSONAL_ICQ: str('ICQ'),
    PERSONAL_PHONE: str('Phone'),
    PERSONAL_FAX: str('Fax'),
    PERSONAL_PAGER: str('Pager'),
    PERSONAL_STREET: str('Street address'),
    PERSONAL_STATE: str('State / Province'),
    PERSONAL_ZIP: str('Zip'),
    PERSONAL_COUNTRY: str('Country'),
    PERSONAL_MAILBOX: str('Mailbox'),
    PERSONAL_NOTES: str('Additional notes'),
    WORK_COMPANY: str('Company'),
    WORK_DEPARTMENT: str('Department'),
    WORK_WWW: str('Company website'),
    WORK_FAX: str('Work fax'),
    WORK_PAGER: str('Work pager'),
    WORK_STREET: str('Company address'),
    WORK_MAILBOX: str('Work mailbox'),
    WORK_CITY: str('Company city'),
    WORK_STATE: str('Company state / province'),
    WORK_ZIP: str('Company zip'),
    WORK_COUNTRY: str('Company country'),
    WORK_PROFILE: str('Company profile'),
    WORK_LOGO: str('Company logo'),
    WORK_NOTES: str('Work notes'),
    UF_SKYPE_LINK: str('Skype chat link'),
    UF_ZOOM: str('Zoom'),
    UF_TIMEMAN: str('Time tracking'),
    UF_INTERESTS: str('Interests'),
    UF_SKILLS: str('Skills'),
    UF_WEB_SITES: str('Other websites'),
    UF_XING: str('Xing'),
    UF_LINKEDIN: str('LinkedIn'),
    UF_TWITTER: str('Twitter'),
    UF_SKYPE: str('Skype'),
    UF_DISTRICT: str('District'),
  },
};

/** Department (department.get). */
export const DEPARTMENT: EntityDef = {
  name: 'department',
  fields: {
    ID: idF(),
    NAME: str('Name'),
    SORT: { type: 'int_raw', title: 'Sort' },
    PARENT: { type: 'integer', title: 'Parent' },
    UF_HEAD: { type: 'integer', title: 'Head' },
  },
};

/** Task (tasks.task.* use the camelCase view, task.item.* the upper-case one). */
export const TASK: EntityDef = {
  name: 'task',
  ufEntityId: 'TASKS_TASK',
  fields: {
    ID: idF(),
    PARENT_ID: { type: 'integer', title: 'Parent task' },
    TITLE: str('Title', { req: true }),
    DESCRIPTION: str('Description'),
    MARK: str('Mark'),
    PRIORITY: { type: 'integer', title: 'Priority' },
    STATUS: { type: 'integer', title: 'Status' },
    MULTITASK: chr('Multiple responsible'),
    NOT_VIEWED: chr('Not viewed'),
    REPLICATE: chr('Recurring'),
    GROUP_ID: { type: 'integer', title: 'Workgroup' },
    STAGE_ID: { type: 'integer', title: 'Stage' },
    CREATED_BY: usr('Created by', { req: true }),
    CREATED_DATE: dt('Created'),
    RESPONSIBLE_ID: usr('Responsible', { req: true }),
    ACCOMPLICES: { type: 'user', title: 'Participants', multi: true },
    AUDITORS: { type: 'user', title: 'Observers', multi: true },
    CHANGED_BY: usr('Changed by'),
    CHANGED_DATE: dt('Changed'),
    STATUS_CHANGED_DATE: dt('Status changed'),
    CLOSED_BY: usr('Closed by'),
    CLOSED_DATE: dt('Closed'),
    ACTIVITY_DATE: dt('Activity'),
    DATE_START: dt('Started'),
    DEADLINE: dt('Deadline'),
    START_DATE_PLAN: dt('Planned start'),
    END_DATE_PLAN: dt('Planned end'),
    ALLOW_CHANGE_DEADLINE: chr('Responsible can change deadline'),
    TASK_CONTROL: chr('Approve when completed'),
    TIME_ESTIMATE: { type: 'integer', title: 'Time estimate' },
    DESCRIPTION_IN_BBCODE: chr('Description in BB code'),
    UF_CRM_TASK: { type: 'object', title: 'CRM items', multi: true },
    TAGS: { type: 'object', title: 'Tags', multi: true },
  },
};

/** Task comment (task.commentitem.*). */
export const TASK_COMMENT: EntityDef = {
  name: 'task_comment',
  fields: {
    ID: idF(),
    TASK_ID: { type: 'integer', title: 'Task' },
    AUTHOR_ID: usr('Author'),
    POST_DATE: dt('Posted'),
    POST_MESSAGE: str('Text', { req: true }),
  },
};

/** Checklist item (task.checklistitem.*). */
export const CHECKLIST: EntityDef = {
  name: 'checklist_item',
  fields: {
    ID: idF(),
    TASK_ID: { type: 'integer', title: 'Task' },
    PARENT_ID: { type: 'integer', title: 'Parent' },
    CREATED_BY: usr('Created by'),
    TITLE: str('Title', { req: true }),
    SORT_INDEX: { type: 'integer', title: 'Sort' },
    IS_COMPLETE: chr('Completed'),
    IS_IMPORTANT: chr('Important'),
    TOGGLED_BY: usr('Toggled by'),
    TOGGLED_DATE: dt('Toggled'),
    MEMBERS: { type: 'object', title: 'Members' },
    ATTACHMENTS: { type: 'object', title: 'Attachments' },
  },
};

/** Workgroup (sonet_group.*). */
export const WORKGROUP: EntityDef = {
  name: 'workgroup',
  fields: {
    ID: idF(),
    SITE_ID: str('Site'),
    NAME: str('Name', { req: true }),
    DESCRIPTION: str('Description'),
    DATE_CREATE: dt('Created'),
    DATE_UPDATE: dt('Updated'),
    ACTIVE: chr('Active'),
    VISIBLE: chr('Visible'),
    OPENED: chr('Open'),
    CLOSED: chr('Archived'),
    SUBJECT_ID: { type: 'integer', title: 'Subject' },
    OWNER_ID: usr('Owner'),
    KEYWORDS: str('Keywords'),
    NUMBER_OF_MEMBERS: { type: 'integer', title: 'Members' },
    DATE_ACTIVITY: dt('Last activity'),
    SUBJECT_NAME: str('Subject name'),
    PROJECT: chr('Project'),
    IS_EXTRANET: chr('Extranet'),
  },
};

/** Table of all entity definitions by name. */
export const ENTITIES: Record<string, EntityDef> = {
  deal: DEAL,
  lead: LEAD,
  contact: CONTACT,
  company: COMPANY,
  activity: ACTIVITY,
  timeline_comment: TIMELINE_COMMENT,
  status: STATUS,
  user: USER,
  department: DEPARTMENT,
  task: TASK,
  task_comment: TASK_COMMENT,
  checklist_item: CHECKLIST,
  workgroup: WORKGROUP,
};

/** entityTypeId → entity name for crm.item.*. */
export const ENTITY_TYPE_IDS: Record<number, string> = { 1: 'lead', 2: 'deal', 3: 'contact', 4: 'company' };
