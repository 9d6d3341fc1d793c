/**
 * Methods the sandbox does not emulate. The portal answers an unknown method with 404 `ERROR_METHOD_NOT_FOUND`
 * "Method not found!" (rest-protocol.md §1.1, §9); the sandbox answers the same code for a documented-looking
 * method it has no handler for (`disk.folder.uploadfile`, `lists.element.add`, …) and says so in the description,
 * so a pipeline never mistakes a missing emulation for a success. There is no generic CRUD fallback any more: it
 * answered `1` / `true` for any `<entity>.<verb>` and accepted any field.
 */
import { ApiError, methodNotFound } from '../apiError.js';

/** Last name segments of documented methods (add, list, uploadfile, …): such a name is likely a real method. */
const DOCUMENTED_VERBS = new Set(
  (
    'add create register addsubfolder uploadfile addtask addcard get list getlist getchildren getstages search ' +
    'update set delete remove unregister deletetask fields getfields start complete terminate kill finish answer ' +
    'open close pause renew copyto moveto send bind unbind'
  ).split(' '),
);

/**
 * The error for a method the sandbox has no handler for: 404 `ERROR_METHOD_NOT_FOUND`; a name shaped like a
 * documented method (`<entity>.<verb>`) gets a description saying the sandbox does not emulate it.
 */
export function notEmulated(method: string): ApiError {
  const parts = method.toLowerCase().split('.');
  if (parts.length < 2 || !DOCUMENTED_VERBS.has(parts[parts.length - 1]!)) return methodNotFound();
  return new ApiError(
    404,
    'ERROR_METHOD_NOT_FOUND',
    `Method not found! ${method} is not emulated by the b24flow sandbox (see its documentation for the emulated methods)`,
  );
}
