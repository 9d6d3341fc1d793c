/**
 * `b24flow.config.yaml`: the settings a team keeps in its repository, validated by schemas/config.schema.json and
 * turned into the environment variables the rest of the CLI reads. Precedence, highest first: command-line flags,
 * the environment, `.env`, this file, the defaults. The file holds no secret: `*_env` keys name the variable that
 * holds one. Read from `B24FLOW_CONFIG` (an error when that file is missing) or `./b24flow.config.yaml` (optional).
 *
 * Keys read: `data_dir`, `catalog_dir`, `locale`, `timezone`, `portal.plan`, `portal.webhook_url_env`,
 * `portal.client_id_env`, `portal.client_secret_env`, `limits.operating_budget_s`, `limits.plan_ttl_s`,
 * `telegram.token_env`, `telegram.allowed_users`, `http.token_env`, `llm.model`, `llm.base_url_env`,
 * `llm.api_key_env`, `retention.runs_days|keys_days|log_days`. The others are validated and not used yet.
 */
import { existsSync } from 'node:fs';
import type { ErrorObject } from 'ajv';
import type { B24FlowConfig } from '../generated/config.js';
import { validate as validateGenerated } from '../generated/config.validate.js';
import { InvalidInputError } from '../lib/failures.js';
import { ajvErrorsToFindings } from '../lib/schemaValidate.js';
import { readYamlSource } from '../lib/yamlSource.js';

/** The generated validator, typed (its errors are ajv's). */
const validate = validateGenerated as unknown as { (data: unknown): boolean; errors?: ErrorObject[] | null };

/** The default file name. */
export const CONFIG_FILE = 'b24flow.config.yaml';

/**
 * The config file's settings as environment variables (only keys the file sets).
 * @throws InvalidInputError naming the file, line and field of each schema error, or a missing `B24FLOW_CONFIG` file
 */
export function configFileEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const file = env.B24FLOW_CONFIG || CONFIG_FILE;
  if (!existsSync(file)) {
    if (env.B24FLOW_CONFIG) throw new InvalidInputError(`B24FLOW_CONFIG: ${file} does not exist`);
    return {};
  }
  const src = readYamlSource<B24FlowConfig>(file);
  if (!validate(src.data)) {
    const findings = ajvErrorsToFindings(validate.errors, src);
    throw new InvalidInputError(`${file}: invalid configuration`, findings);
  }
  const c = src.data ?? {};
  const out: Record<string, string> = {};
  const set = (k: string, v: unknown) => {
    if (v !== undefined && v !== null) out[k] = String(v);
  };
  /** The value of the variable a `*_env` key names, under the variable the CLI reads. */
  const via = (k: string, name: string | undefined) => {
    if (name && name !== k) set(k, env[name]);
  };
  set('B24FLOW_DATA_DIR', c.data_dir);
  set('B24FLOW_CATALOG_DIR', c.catalog_dir);
  set('B24FLOW_LANG', c.locale);
  set('B24FLOW_TZ', c.timezone);
  set('B24_PLAN', c.portal?.plan);
  via('BITRIX_WEBHOOK_URL', c.portal?.webhook_url_env);
  via('B24_CLIENT_ID', c.portal?.client_id_env);
  via('B24_CLIENT_SECRET', c.portal?.client_secret_env);
  set('B24_OPERATING_LIMIT', c.limits?.operating_budget_s);
  if (c.limits?.plan_ttl_s !== undefined) set('B24FLOW_PLAN_TTL_MS', c.limits.plan_ttl_s * 1000);
  via('TELEGRAM_BOT_TOKEN', c.telegram?.token_env);
  if (c.telegram?.allowed_users?.length) set('TELEGRAM_ALLOWED_CHATS', c.telegram.allowed_users.join(','));
  via('HTTP_API_TOKENS', c.http?.token_env);
  set('OPENAI_MODEL', c.llm?.model);
  via('OPENAI_API_BASE', c.llm?.base_url_env);
  via('OPENAI_API_KEY', c.llm?.api_key_env);
  set('B24FLOW_RETENTION_DAYS', c.retention?.runs_days);
  set('B24FLOW_KEYS_RETENTION_DAYS', c.retention?.keys_days);
  set('B24FLOW_LOG_RETENTION_DAYS', c.retention?.log_days);
  return out;
}
