/**
 * What `b24flow events` and `b24flow dlq` do (flag parsing lives in src/cli/commands). Each function returns the
 * text for stdout; notices go to stderr. Settings (data dir, schedule time zone, `auth_connector`) and the
 * application connection come from the composition root (src/cli/compose.ts).
 */
import { InvalidInputError, RuntimeFailure } from '../../lib/failures.js';
import { redact } from '../../lib/redact.js';
import type { RunOptions } from '../../pipeline/index.js';
import { type BindingResult, bindPortalEvents, declaredEvents } from '../../triggers/bindings.js';
import { Dispatcher } from '../../triggers/dispatcher.js';
import { type DeadLetter, type DeadLetterStore, type MalformedDeadLetter, replayEvent } from '../../triggers/dlq.js';
import { attemptEvent } from '../../triggers/intake.js';
import { guardClient, OwnWrites } from '../../triggers/loopGuard.js';
import { Metrics } from '../../triggers/metrics.js';
import { APP_AUTH_HELP, isWrongAuthType } from '../../triggers/offlineSync.js';
import { portalKeys } from '../../triggers/processed.js';
import { pipelineRunner } from '../../triggers/runner.js';
import type { TriggerStores } from '../../triggers/service.js';
import { loadPipelinesDir } from '../../triggers/setup.js';
import { connectApp, readSettings } from '../compose.js';
import { closeDataStore } from '../dataStore.js';
import { storeRunSettings } from '../runSettings.js';
import { openTriggerStores } from '../triggerStores.js';
import { jsonText } from './jsonOut.js';

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
  const names = declaredEvents(pipelines);
  if (o.handler && !/^https?:\/\//.test(o.handler)) throw new InvalidInputError(`--handler must be an http(s) URL`);
  const conn = await connectApp();
  let results: BindingResult[];
  try {
    results = await bindPortalEvents(conn.client, names, {
      authConnector: settings.authConnector,
      ...(o.handler ? { handler: o.handler, minTimeout: Number(o.minTimeout ?? 1) } : {}),
    });
  } catch (err) {
    if (isWrongAuthType(err)) throw appAuthFailure('event.bind');
    throw err;
  } finally {
    await conn.close();
  }
  if (o.json) return jsonText({ bindings: results });
  if (!results.length) return 'No pipeline declares an event trigger; nothing to bind.\n';
  return results.map((r) => `${r.event} (${r.type}): ${r.status}\n`).join('');
}

/** `events list`: the portal's bindings (event.get). */
export async function listBindingsCommand(o: { json?: boolean }): Promise<string> {
  const conn = await connectApp();
  try {
    const r = await conn.client.call('event.get', {});
    const rows = (Array.isArray(r.result) ? r.result : []) as Record<string, unknown>[];
    if (o.json) return jsonText({ bindings: rows });
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

/** Runs `fn` on the trigger stores of the data store (the same queue on SQLite and PostgreSQL), then closes it. */
async function withStores<T>(fn: (stores: TriggerStores) => Promise<T>): Promise<T> {
  try {
    return await fn(await openTriggerStores(readSettings()));
  } finally {
    await closeDataStore();
  }
}

/**
 * `events pending`: accepted online events not settled yet (the intake store), oldest first, with attempts, when
 * they are due and which worker holds them. `--json`: `{ count, items: HeldEvent[] }` (at most `--limit`, 100).
 */
export function pendingEventsCommand(o: { json?: boolean; limit?: string }): Promise<string> {
  const limit = o.limit === undefined ? 100 : Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidInputError('--limit must be a positive integer');
  return withStores(async ({ events }) => {
    const [count, items] = [await events.count(), await events.list(limit)];
    if (o.json) return jsonText({ count, items });
    if (!count) return 'No accepted event is waiting.\n';
    const now = Date.now();
    const lines = items.map((e) => {
      const held =
        e.leasedBy && (e.leaseUntilMs ?? 0) >= now
          ? `held by ${e.leasedBy} until ${new Date(e.leaseUntilMs!).toISOString()}`
          : 'free';
      const err = e.lastError
        ? `  last error: ${e.lastError.length > 80 ? `${e.lastError.slice(0, 77)}...` : e.lastError}`
        : '';
      return `${e.id}  ${e.event.name}${e.event.objectId ? ` #${e.event.objectId}` : ''}  attempts ${e.attempts}  due ${new Date(e.dueMs).toISOString()}  ${held}${err}`;
    });
    const more = count > items.length ? ` (${items.length} shown)` : '';
    return `${lines.join('\n')}\n${count} accepted event${count === 1 ? '' : 's'} waiting${more}\n`;
  });
}

function oneLine(d: DeadLetter): string {
  const err = d.error.length > 100 ? `${d.error.slice(0, 97)}...` : d.error;
  return `${d.id}  ${d.event}${d.objectId ? ` #${d.objectId}` : ''}${d.memberId ? `  portal ${d.memberId}` : ''}  attempts ${d.attempts}  last ${d.lastSeen}  ${d.pipelines.join(',')}: ${err}`;
}

function badLine(m: MalformedDeadLetter): string {
  return `${m.id}  MALFORMED  ${m.file}: ${m.error}`;
}

/**
 * `dlq list`: the entries, then the stored values that are not entries (`MALFORMED`, with where they are —
 * `<store>#dead_letters/<id>` — and the parse error), so one bad entry neither breaks nor hides the rest.
 * `--json`: `{ size, items, malformed: [{ id, file, error }] }`.
 */
export function dlqList(o: { json?: boolean }): Promise<string> {
  return withStores(async ({ deadLetters }) => {
    const { entries: all, malformed: bad } = await deadLetters.scan();
    const malformed = bad.map(({ text: _, ...m }) => m);
    return listText(all, malformed, o);
  });
}

function listText(all: DeadLetter[], malformed: MalformedDeadLetter[], o: { json?: boolean }): string {
  if (o.json) return jsonText({ size: all.length, items: all, malformed });
  if (!all.length && !malformed.length) return 'The dead-letter queue is empty.\n';
  const lines = [...all.map(oneLine), ...malformed.map(badLine)];
  const bad = malformed.length
    ? `, ${malformed.length} malformed (see \`b24flow dlq show <id>\`, drop or fix them)`
    : '';
  return `${lines.join('\n')}\n${all.length} dead letter${all.length === 1 ? '' : 's'}${bad}\n`;
}

/** An entry by id, or the malformed entry of that id; throws when neither exists. */
async function findAny(q: DeadLetterStore, id: string): Promise<DeadLetter | MalformedDeadLetter> {
  const d = (await q.get(id)) ?? (await q.getMalformed(id));
  if (!d) throw new InvalidInputError(`no dead letter with id ${id} (see \`b24flow dlq list\`)`);
  return d;
}

function isMalformed(d: DeadLetter | MalformedDeadLetter): d is MalformedDeadLetter {
  return 'file' in d && !('event' in d);
}

/** A well-formed entry by id; a malformed one is refused with where it is and its error. */
async function find(q: DeadLetterStore, id: string): Promise<DeadLetter> {
  const d = await findAny(q, id);
  if (isMalformed(d))
    throw new InvalidInputError(
      `dead letter ${d.id} is malformed and cannot be replayed (${d.file}: ${d.error}); \`b24flow dlq drop ${d.id}\` it`,
    );
  return d;
}

/** `dlq show <id>`: an entry, or a malformed one (where it is, the error and its raw text). */
export function dlqShow(id: string, o: { json?: boolean }): Promise<string> {
  return withStores(async ({ deadLetters }) => showText(await findAny(deadLetters, id), o));
}

function showText(d: DeadLetter | MalformedDeadLetter, o: { json?: boolean }): string {
  if (isMalformed(d)) {
    const { text = '', ...m } = d;
    if (o.json) return jsonText({ ...m, malformed: true, text });
    return [
      `id:          ${d.id}`,
      'status:      MALFORMED',
      `file:        ${d.file}`,
      `error:       ${d.error}`,
      'text:',
      text,
      '',
    ].join('\n');
  }
  if (o.json) return jsonText(d);
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
  return withStores((stores) => replay(stores, id, o));
}

async function replay(
  stores: TriggerStores,
  id: string | undefined,
  o: { all?: boolean; pipelines: string; json?: boolean },
): Promise<string> {
  const q = stores.deadLetters;
  const scanned = o.all ? await q.scan() : undefined;
  const entries = scanned ? scanned.entries : [await find(q, id!)];
  if (scanned?.malformed.length)
    say(
      `dlq replay: ${scanned.malformed.length} malformed entr${scanned.malformed.length === 1 ? 'y' : 'ies'} skipped (${scanned.malformed.map((m) => m.file).join(', ')})`,
    );
  if (!entries.length) return o.json ? '{"replayed":[]}\n' : 'The dead-letter queue is empty.\n';
  const results = await replayLetters(stores, entries, o.pipelines);
  const failed = results.filter((r) => !r.ok);
  const out = o.json
    ? jsonText({ replayed: results })
    : results
        .map(
          (r) =>
            `${r.id} ${r.event}${r.memberId ? ` (portal ${r.memberId})` : ''}: ` +
            `${r.ok ? 'processed, removed from the queue' : `failed again — ${r.error}`}\n`,
        )
        .join('');
  if (failed.length) {
    process.stdout.write(out);
    throw new RuntimeFailure(`${failed.length} of ${results.length} dead letters failed again; they stay in the queue`);
  }
  return out;
}

/** What replaying one dead letter did (`memberId`: the portal it ran on, when the letter names one). */
export interface LetterReplay {
  id: string;
  event: string;
  ok: boolean;
  error?: string;
  memberId?: string;
}

/**
 * Dispatches each letter again to the pipelines that failed on it (ignoring the dedupe record), on the portal it
 * came from; removes it when they succeed, else records the new attempt. The one replay path of `b24flow dlq replay`
 * and the chat's `/dlq replay` (src/cli/chatDeadLetters.ts).
 * @param pipelinesDir where the pipelines are loaded from
 * @throws the connection's or the store's errors (a pipeline failure is a result, not an error)
 */
export async function replayLetters(
  stores: TriggerStores,
  entries: DeadLetter[],
  pipelinesDir: string,
): Promise<LetterReplay[]> {
  const q = stores.deadLetters;
  const settings = readSettings();
  const pipelines = await loadPipelinesDir(pipelinesDir, { timezone: settings.timezone });
  const results: LetterReplay[] = [];
  // each dead letter runs on the portal it came from (an OAuth application installed on several portals): one
  // connection per portal; letters without one (a webhook, or older entries) on the configured portal
  const byPortal = new Map<string, DeadLetter[]>();
  for (const d of entries) byPortal.set(d.memberId ?? '', [...(byPortal.get(d.memberId ?? '') ?? []), d]);
  for (const [memberId, letters] of byPortal) {
    const conn = await connectApp(memberId ? { env: { ...settings.env, B24_MEMBER_ID: memberId } } : {});
    try {
      const own = new OwnWrites();
      const client = guardClient(conn.client, { authConnector: settings.authConnector, own });
      // processed keys as the service keeps them: by portal
      const processed = portalKeys(stores.processed, memberId || conn.client.portal.id);
      const dispatcher = new Dispatcher({
        pipelines,
        run: pipelineRunner(client as RunOptions['client'], await storeRunSettings(settings)),
        processed,
        metrics: new Metrics(),
        own,
        log: say,
      });
      for (const d of letters) {
        const at = memberId ? { memberId } : {};
        const known = d.pipelines.filter((n) => pipelines.some((p) => p.name === n));
        if (!known.length) {
          const error = `pipeline ${d.pipelines.join(', ')} not found in ${pipelinesDir}`;
          results.push({ id: d.id, event: d.event, ok: false, error, ...at });
          continue;
        }
        // the same settle step as the service's intake: a handler that throws is a failure with its reason
        const r = await attemptEvent(dispatcher, replayEvent(d), { only: known, force: true });
        if (!r.ok) {
          const error = r.error ?? 'failed';
          await q.add(replayEvent(d), { error, attempts: 1, pipelines: r.pipelines });
          results.push({ id: d.id, event: d.event, ok: false, error, ...at });
        } else {
          await q.drop(d.id);
          results.push({ id: d.id, event: d.event, ok: true, ...at });
        }
      }
    } finally {
      await conn.close();
    }
  }
  return results;
}

/** `dlq drop <id>|--all` (malformed entries included). */
export async function dlqDrop(id: string | undefined, o: { all?: boolean; json?: boolean }): Promise<string> {
  if (!id && !o.all) throw new InvalidInputError('give a dead-letter id or --all');
  const ids = await withStores(async ({ deadLetters: q }) => {
    const scan = o.all ? await q.scan() : undefined;
    const ids = scan ? [...scan.entries, ...scan.malformed].map((d) => d.id) : [(await findAny(q, id!)).id];
    for (const i of ids) await q.drop(i);
    return ids;
  });
  return o.json ? jsonText({ dropped: ids }, 0) : `Dropped ${ids.length} dead letter${ids.length === 1 ? '' : 's'}.\n`;
}
