/**
 * Errors the sandbox answers with. One class carries every dialect: the HTTP status and body are chosen
 * by the server from `status`, `code` and `description` (v1 `{error, error_description}`) or, for REST 3.0,
 * `{error: {code, message, validation}}`. Sources (apidocs.bitrix24.com/<path>.html): _includes/system-errors.md,
 * settings/how-to-call-rest-api/general-principles.md, api-reference/rest-v3.md; rest-protocol.md §1.4, §8, §9.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    readonly validation?: { field: string; message: string }[],
  ) {
    super(description);
  }
}

/** Legacy CRM dialect: empty code, HTTP 400 (`crm.deal.*`, `crm.contact.*`, …). */
export const legacyError = (text: string) => new ApiError(400, '', text);
/** System `ERROR_ARGUMENT` / `ERROR_CORE` style 400. */
export const argError = (text: string, code = 'ERROR_ARGUMENT') => new ApiError(400, code, text);
/**
 * D7 controller dialect (`crm.item.*`, `crm.category.*`, `tasks.task.*`): a named code, HTTP 400 unless given.
 */
export const d7Error = (code: string, text: string, status = 400) => new ApiError(status, code, text);
/** D7 code 100 for a required parameter that is absent: "Could not find value for parameter {name}". */
export const missingParam = (name: string) => d7Error('100', `Could not find value for parameter {${name}}`);
/** 404 ERROR_METHOD_NOT_FOUND "Method not found!". */
export const methodNotFound = () => new ApiError(404, 'ERROR_METHOD_NOT_FOUND', 'Method not found!');
/** REST 3.0 error with a `BITRIX_REST_V3_EXCEPTION_` code. */
export const v3Error = (
  status: number,
  short: string,
  message: string,
  validation?: { field: string; message: string }[],
) => new ApiError(status, 'BITRIX_REST_V3_EXCEPTION_' + short, message, validation);
