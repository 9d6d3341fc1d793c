/**
 * What `b24flow events` and `b24flow dlq` do (flag parsing lives in src/cli/commands). Each function returns the
 * text for stdout; notices go to stderr. Settings (data dir, schedule time zone, `auth_connector`) and the
 * application connection come from the composition root (src/cli/compose.ts).
 */
import { InvalidInputError, RuntimeFailure } from '../../lib/failures.js';
import { redact } from '../../lib/redact.js';
import type { RunOptions } from '../../pipeline/index.js';
import { Dispatcher } from '../../triggers/dispatcher.js';
import { type DeadLetter, DeadLetterQueue } from '../../triggers/dlq.js';
import { guardClient, OwnWrites } from '../../triggers/loopGuard.js';
import { Metrics } from '../../triggers/metrics.js';
import { APP_AUTH_HELP, isWrongAuthType } from '../../triggers/offlineSync.js';
import { ProcessedStore } from '../../triggers/processed.js';
import { pipelineRunner } from '../../triggers/service.js';
import { loadPipelinesDir } from '../../triggers/setup.js';
import { connectApp, readSettings } from '../compose.js';
import { pipelineRunSettings } from '../runSettings.js';

const say = (l: string) => process.stderr.write(`${redact(l)}\n`);

function appAuthFailure(method: string): RuntimeFailure {
  return new RuntimeFailure(`${method}: WRONG_AUTH_TYPE — ${APP_AUTH_HELP}`);
}

/**
 * `events bind`: `event.bind` with `event_type=offline` and our `auth_connector` for every event the pipelines
 * declare (an existing binding counts as done); ONOFFLINEEVENT to `handler` when given.
 * @throws RuntimeFailure with the app set-up help on WRONG_AUTH_TYPE
 */
export async function bindCommand(o: {
  pipelines: string;
  handler?: string;
  minTimeout?: string;
  json?: boolean;
}): Promise<string> {
  const settings = readSettings();
  const pipelines = await loadPipelinesDir(o.pipelines, { check: false, timezone: settings.timezone });
  const names = [
    ...new Set(
      pipelines
        .flatMap((p) => (p.def.triggers ?? []).flatMap((t) => t.event?.events ?? []))
        .map((e) => e.toUpperCase()),
    ),
  ].sort();
  if (o.handler && !/^https?:\/\//.test(o.handler)) throw new InvalidInputError(`--handler must be an http(s) URL`);
  const conn = await connectApp();
  const connector = settings.authConnector;
  const results: { event: string; type: string; status: 'bound' | 'already bound' }[] = [];
  try {
    const bind = async (params: Record<string, unknown>, type: string) => {
      try {
        await conn.client.call('event.bind', params);
        results.push({ event: String(params.event), type, status: 'bound' });
      } catch (err) {
        if (isWrongAuthType(err)) throw appAuthFailure('event.bind');
        const msg = `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`;
        if (/ALREADY|Unable to set event handler|already exist/i.test(msg)) {
          results.push({ event: String(params.event), type, status: 'already bound' });
        } else throw err;
      }
    };
    for (const event of names) await bind({ event, event_type: 'offline', auth_connector: connector }, 'offline');
    if (o.handler) {
      await bind(
        { event: 'ONOFFLINEEVENT', handler: o.handler, options: { minTimeout: Number(o.minTimeout ?? 1) } },
        'online',
      );
    }
  } finally {
    await conn.close();
  }
  if (o.json) return `${JSON.stringify({ bindings: results }, null, 2)}\n`;
  if (!results.length) return 'No pipeline declares an event trigger; nothing to bind.\n';
  return results.map((r) => `${r.event} (${r.type}): ${r.status}\n`).join('');
}

/** `events list`: the portal's bindings (event.get). */
export async function listBindingsCommand(o: { json?: boolean }): Promise<string> {
  const conn = await connectApp();
  try {
    const r = await conn.client.call('event.get', {});
    const rows = (Array.isArray(r.result) ? r.result : []) as Record<string, unknown>[];
    if (o.json) return `${JSON.stringify({ bindings: rows }, null, 2)}\n`;
    return rows.length
      ? rows.map((b) => `${b.event} ${Number(b.offline) ? 'offline' : `online ${b.handler ?? ''}`}\n`).join('')
      : 'No handlers bound.\n';
  } catch (err) {
    if (isWrongAuthType(err)) throw appAuthFailure('event.get');
    throw err;
  } finally {
    await conn.close();
  }
}

function queue(): DeadLetterQueue {
  return new DeadLetterQueue(readSettings().dataDir);
}

function oneLine(d: DeadLetter): string {
  const err = d.error.length > 100 ? `${d.error.slice(0, 97)}...` : d.error;
  return `${d.id}  ${d.event}${d.objectId ? ` #${d.objectId}` : ''}  attempts ${d.attempts}  last ${d.lastSeen}  ${d.pipelines.join(',')}: ${err}`;
}

/** `dlq list`. */
export function dlqList(o: { json?: boolean }): string {
  const all = queue().list();
  if (o.json) return `${JSON.stringify({ size: all.length, items: all }, null, 2)}\n`;
  if (!all.length) return 'The dead-letter queue is empty.\n';
  return `${all.map(oneLine).join('\n')}\n${all.length} dead letter${all.length === 1 ? '' : 's'}\n`;
}

function find(id: string): DeadLetter {
  const d = queue().get(id);
  if (!d) throw new InvalidInputError(`no dead letter with id ${id} (see \`b24flow dlq list\`)`);
  return d;
}

/** `dlq show <id>`. */
export function dlqShow(id: string, o: { json?: boolean }): string {
  const d = find(id);
  if (o.json) return `${JSON.stringify(d, null, 2)}\n`;
  return [
    `id:          ${d.id}`,
    `event:       ${d.event}${d.objectId ? ` (object ${d.objectId})` : ''}`,
    `pipelines:   ${d.pipelines.join(', ')}`,
    `attempts:    ${d.attempts}`,
    `first seen:  ${d.firstSeen}`,
    `last seen:   ${d.lastSeen}`,
    `payload sha: ${d.payloadHash}`,
    `error:       ${d.error}`,
    'payload:',
    JSON.stringify(d.payload, null, 2),
    '',
  ].join('\n');
}

/**
 * `dlq replay <id>|--all`: dispatches each entry again to the pipelines that failed on it (ignoring the dedupe
 * record); removes it when they succeed, else records the new attempt.
 * @throws RuntimeFailure when some entry still fails (after trying them all)
 */
export async function dlqReplay(
  id: string | undefined,
  o: { all?: boolean; pipelines: string; json?: boolean },
): Promise<string> {
  if (!id && !o.all) throw new InvalidInputError('give a dead-letter id or --all');
  const q = queue();
  const entries = o.all ? q.list() : [find(id!)];
  if (!entries.length) return o.json ? '{"replayed":[]}\n' : 'The dead-letter queue is empty.\n';
  const settings = readSettings();
  const pipelines = await loadPipelinesDir(o.pipelines, { timezone: settings.timezone });
  const conn = await connectApp();
  const results: { id: string; event: string; ok: boolean; error?: string }[] = [];
  try {
    const own = new OwnWrites();
    const client = guardClient(conn.client, {
      authConnector: settings.authConnector,
      own,
    });
    const dispatcher = new Dispatcher({
      pipelines,
      run: pipelineRunner(client as RunOptions['client'], pipelineRunSettings(settings)),
      processed: new ProcessedStore(settings.dataDir),
      metrics: new Metrics(),
      own,
      log: say,
    });
    for (const d of entries) {
      const known = d.pipelines.filter((n) => pipelines.some((p) => p.name === n));
      if (!known.length) {
        results.push({
          id: d.id,
          event: d.event,
          ok: false,
          error: `pipeline ${d.pipelines.join(', ')} not found in ${o.pipelines}`,
        });
        continue;
      }
      const r = await dispatcher.dispatch(DeadLetterQueue.toEvent(d), { only: known, force: true });
      if (r.outcome === 'failed') {
        const error = r.failures.map((f) => `${f.pipeline}: ${f.error}`).join('; ');
        q.add(DeadLetterQueue.toEvent(d), { error, attempts: 1, pipelines: r.failures.map((f) => f.pipeline) });
        results.push({ id: d.id, event: d.event, ok: false, error });
      } else {
        q.drop(d.id);
        results.push({ id: d.id, event: d.event, ok: true });
      }
    }
  } finally {
    await conn.close();
  }
  const failed = results.filter((r) => !r.ok);
  const out = o.json
    ? `${JSON.stringify({ replayed: results }, null, 2)}\n`
    : results
        .map((r) => `${r.id} ${r.event}: ${r.ok ? 'processed, removed from the queue' : `failed again — ${r.error}`}\n`)
        .join('');
  if (failed.length) {
    process.stdout.write(out);
    throw new RuntimeFailure(`${failed.length} of ${results.length} dead letters failed again; they stay in the queue`);
  }
  return out;
}

/** `dlq drop <id>|--all`. */
export function dlqDrop(id: string | undefined, o: { all?: boolean; json?: boolean }): string {
  if (!id && !o.all) throw new InvalidInputError('give a dead-letter id or --all');
  const q = queue();
  const ids = o.all ? q.list().map((d) => d.id) : [find(id!).id];
  for (const i of ids) q.drop(i);
  return o.json
    ? `${JSON.stringify({ dropped: ids })}\n`
    : `Dropped ${ids.length} dead letter${ids.length === 1 ? '' : 's'}.\n`;
}
