/**
 * The `b24flow` command line. Each command lives in `src/cli/commands/<name>.ts` and exports
 * `register(program)`; command files import heavy modules lazily inside their action so that
 * start-up stays fast (`catalog show` must answer cold in < 300 ms).
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 invalid input (bad flags, bad files, bad params).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import * as app from './commands/app.js';
import * as apply from './commands/apply.js';
import * as approvals from './commands/approvals.js';
import * as bot from './commands/bot.js';
import * as call from './commands/call.js';
import * as catalog from './commands/catalog.js';
import * as chat from './commands/chat.js';
import * as check from './commands/check.js';
import * as completion from './commands/completion.js';
import * as consoleCmd from './commands/console.js';
import * as dlq from './commands/dlq.js';
import * as events from './commands/events.js';
import * as exportCmd from './commands/export.js';
import * as gc from './commands/gc.js';
import * as graph from './commands/graph.js';
import * as init from './commands/init.js';
import * as migrate from './commands/migrate.js';
import * as pipelinesCmd from './commands/pipelines.js';
import * as plan from './commands/plan.js';
import * as resume from './commands/resume.js';
import * as run from './commands/run.js';
import * as runs from './commands/runs.js';
import * as sandbox from './commands/sandbox.js';
import * as serve from './commands/serve.js';
import { configureProcess } from './compose.js';
import { closeDataStore } from './dataStore.js';
import { reportError, reportUsageError, wantsJson } from './present/errorOut.js';

/** The package's version, read from package.json (two levels up from both src/cli and dist/cli). */
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

/** Whether this command line asks for JSON output (then errors are JSON too). */
const json = wantsJson(process.argv.slice(2));

const program = new Command();
program
  .name('b24flow')
  .description('Automate a Bitrix24 CRM with declarative YAML pipelines: check, plan, confirm, run.')
  .version(version)
  .exitOverride()
  // under --json a usage error is printed once, as JSON, by the catch below
  .configureOutput({ outputError: (str, write) => (json ? undefined : write(str)) });

for (const mod of [
  catalog,
  sandbox,
  call,
  exportCmd,
  check,
  graph,
  pipelinesCmd,
  plan,
  run,
  apply,
  approvals,
  resume,
  runs,
  gc,
  migrate,
  serve,
  app,
  events,
  dlq,
  bot,
  chat,
  consoleCmd,
  init,
  completion,
]) {
  mod.register(program);
}

// output piped into `head` (or a closed terminal) ends the command quietly, as Unix tools do
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });

try {
  // inside the one error exit: a bad b24flow.config.yaml is reported like any other input error
  configureProcess(process.env);
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version end here with exit code 0; usage errors with 2 (as JSON on stderr under --json).
    if (err.exitCode !== 0 && json) reportUsageError(err.message);
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  } else {
    // one exit for every error: through the redaction mechanism, whatever path raised it
    process.exitCode = reportError(err, json);
  }
} finally {
  // the store ends with the command: an idle PostgreSQL pool would keep the process alive for its idle timeout
  await closeDataStore().catch(() => {});
}
