/**
 * `b24flow init [dir]` and `b24flow schema --path`: a starter folder for a new project and the location of the
 * pipeline schema of the installed package.
 *
 * The `$schema` line `init` writes points at the installed package's `schemas/pipeline.schema.json` (the file
 * `schema --path` prints), relative to the pipeline when the package is installed inside the project (e.g.
 * `../node_modules/b24flow/schemas/pipeline.schema.json`, which stays valid when the project moves or is cloned) and
 * absolute otherwise (a global install). A file path works offline and always matches the installed version; the
 * schema's `$id` (`https://b24flow.dev/schemas/pipeline.schema.json`) names it stably but is not served.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '../../lib/failures.js';

/** Absolute path of `schemas/pipeline.schema.json` of this package (three levels up from dist/cli/present). */
export function schemaPath(): string {
  return fileURLToPath(new URL('../../../schemas/pipeline.schema.json', import.meta.url));
}

/** The `$schema` reference for a pipeline file at `pipelineFile`: relative inside the project, else absolute. */
export function schemaRef(pipelineFile: string, projectDir: string, schema = schemaPath()): string {
  const inside = relative(resolve(projectDir), schema);
  if (inside && !inside.startsWith('..') && !isAbsolute(inside))
    return relative(dirname(resolve(pipelineFile)), schema)
      .split(sep)
      .join('/');
  return schema.split(sep).join('/');
}

/** Variables of `.env.example`: name and the comment above it; values are left empty on purpose. */
const ENV_EXAMPLE: [string, string][] = [
  [
    'BITRIX_WEBHOOK_URL',
    'Incoming webhook of the portal (https://<portal>/rest/<user>/<code>/); unset: the embedded sandbox',
  ],
  ['B24_CLIENT_ID', 'OAuth application (instead of a webhook): client id'],
  ['B24_CLIENT_SECRET', 'OAuth application: client secret'],
  ['B24FLOW_DATA_DIR', 'Store, dead-letter queue, tokens and logs (default ./data)'],
  ['B24FLOW_SANDBOX_DIR', "The embedded sandbox's data (default <data dir>/sandbox)"],
  ['B24FLOW_TZ', 'Portal time zone, an IANA name such as Europe/Moscow (default UTC)'],
  ['B24FLOW_LANG', 'Language of run summaries: en or ru'],
  ['B24FLOW_PUBLIC_URL', 'Address the portal reaches `b24flow serve` at (events, the application)'],
  ['HTTP_API_TOKENS', "API keys of serve's HTTP API"],
  ['TELEGRAM_BOT_TOKEN', 'The Telegram bot (b24flow bot)'],
  ['OPENAI_API_KEY', 'The planner behind chat messages'],
];

function envExample(): string {
  const lines = [
    '# b24flow configuration: copy to .env and fill in what you use. Variables already set in the',
    '# environment win over .env. See the README of b24flow for every variable.',
    '',
  ];
  for (const [name, comment] of ENV_EXAMPLE) lines.push(`# ${comment}`, `${name}=`, '');
  return lines.join('\n');
}

function helloPipeline(ref: string): string {
  return `# yaml-language-server: $schema=${ref}
# A read-only pipeline: reads the newest deals (one page). Try it: b24flow check pipelines/hello.yaml && b24flow run pipelines/hello.yaml
name: hello
description: The newest deals, one page (reads only)
packs: [core]
steps:
  - id: deals
    method: crm.item.list
    params:
      entityTypeId: 2
      order: { id: desc }
      select: [id, title, stageId]
outputs:
  count: \${{ steps.deals.result.size() }}
`;
}

const README = `# b24flow pipelines

\`\`\`sh
cp .env.example .env              # set BITRIX_WEBHOOK_URL, or leave it empty to use the embedded sandbox portal
b24flow check pipelines/*.yaml    # static checks and a cost estimate
b24flow run pipelines/hello.yaml  # shadow mode: reads, and prints what would be written
\`\`\`

Pipelines live in \`pipelines/\`; the first line of each names the schema so that editors complete and validate them
(\`b24flow schema --path\` prints where it is). Writes need \`--mode full --confirm-write\`.
`;

/**
 * Writes the starter files into `dir` (created when missing) and returns their paths, relative to `dir`.
 * @throws InvalidInputError when any of the files already exists (nothing is written then)
 */
export function initProject(dir: string): string[] {
  const root = resolve(dir);
  const hello = join(root, 'pipelines', 'hello.yaml');
  const files: [string, string][] = [
    ['.env.example', envExample()],
    [join('pipelines', 'hello.yaml'), helloPipeline(schemaRef(hello, root))],
    ['README.md', README],
  ];
  const existing = files.map(([f]) => f).filter((f) => existsSync(join(root, f)));
  if (existing.length)
    throw new InvalidInputError(`refusing to overwrite ${existing.join(', ')} in ${root} (nothing was written)`);
  for (const [f, text] of files) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), text, { flag: 'wx' });
  }
  return files.map(([f]) => f.split(sep).join('/'));
}
