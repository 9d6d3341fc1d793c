/**
 * Every task method of the sandbox, registered in one order (the order `methods` lists them in): `tasks.task.*`
 * (tasksV1.ts), the legacy positional `task.commentitem.*` / `task.checklistitem.*` (taskItems.ts) and the REST 3.0
 * `tasks.task.*` (tasksV3.ts). Task rows themselves are made and changed in taskRows.ts. Sources:
 * apidocs.bitrix24.com/api-reference/tasks/ (b24-spec api-reference/tasks/*).
 */
import type { Registry } from '../registry.js';
import { taskItemMethods } from './taskItems.js';
import { taskMethods } from './tasksV1.js';
import { taskV3Methods } from './tasksV3.js';

/** Registers task methods; `portalTaskFields` are the task entity's fields (camelCase input names come from them). */
export function registerTasks(r: Registry, portalTaskFields: Record<string, unknown>): void {
  taskMethods(r, portalTaskFields);
  taskItemMethods(r);
  taskV3Methods(r);
}
