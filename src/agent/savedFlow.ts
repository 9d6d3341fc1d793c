/**
 * Saved pipelines from chat: `/save [name]` keeps the conversation's draft (the planner's last checked proposal, or a
 * saved pipeline opened with `/edit`) as the next version of a name, with its author (the linked Bitrix24 user);
 * `/edit <name>` opens a saved pipeline so the next message changes it ("run it on Tuesdays"); `/versions <name>` and
 * `/diff <name> [from] [to]` show its history. The store is src/pipeline/saved.ts's port, wired by the runtime engine.
 */
import { parse as parseYaml } from 'yaml';
import type { Approve } from '../generated/pipeline.js';
import { approvesWrite, savedDiff } from '../pipeline/index.js';
import type { AgentCore } from './core.js';
import { describePipeline } from './pipelineWords.js';
import { type AgentReply, t } from './replies.js';
import { type AgentState, nowIso } from './state.js';

/** The shape of a saved pipeline's name (src/pipeline/saved.ts `SAVED_NAME`). */
const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Diff lines shown in chat after a save or by `/diff` (the CLI prints the whole patch). */
const MAX_DIFF_LINES = 40;

/** A name as typed (`"weekly"`, `«weekly»`), lower-cased; undefined when it is not a pipeline name. */
function nameOf(arg: string): string | undefined {
  const name = arg
    .trim()
    .replace(/^["'«]|["'»]$/g, '')
    .toLowerCase();
  return NAME.test(name) ? name : undefined;
}

function noStore(state: AgentState): AgentReply {
  return {
    kind: 'refused',
    text: t(state, 'Saved pipelines are not available here.', 'Сохранённые пайплайны здесь недоступны.'),
  };
}

/**
 * `/save [name]` (or "save this as <name>", or "save" after `/edit`): checks the draft and stores it as the next
 * version of `name` (default: the name it was saved or opened under). Refused without a link (the author is the
 * linked Bitrix24 user), without a draft, or when the draft does not check clean (nothing saved).
 */
export async function saveCommand(core: AgentCore, state: AgentState, arg: string): Promise<AgentReply> {
  const draft = state.draft;
  const name = arg.trim() ? nameOf(arg) : draft?.name;
  if (!name)
    return {
      kind: 'refused',
      text: t(state, 'Usage: /save <name> (a-z, 0-9, _ and -)', 'Формат: /save <имя> (a-z, 0-9, _ и -)'),
    };
  if (!state.bitrixUserId)
    return {
      kind: 'refused',
      text: t(
        state,
        'Link your Bitrix24 user first (/link <your Bitrix24 user id>): a saved pipeline names its author.',
        'Сначала свяжите пользователя Битрикс24 (/link <ваш id>): у сохранённого пайплайна есть автор.',
      ),
    };
  if (!draft || !core.engine.save)
    return {
      kind: 'refused',
      text: t(
        state,
        'Nothing to save: describe an automation first, then save it.',
        'Нечего сохранять: сначала опишите автоматизацию, затем сохраните её.',
      ),
    };
  // a trigger that writes without asking anyone runs unattended on the author's word alone: operators only
  if (preApproves(draft.pipeline) && !(await core.engine.mayOperate(state.bitrixUserId)))
    return {
      kind: 'refused',
      text: t(
        state,
        'Not saved: its trigger writes without asking anyone (approve: write), which only operators may set. Ask for its writes to be approved (approve: ask with approvers), or ask an operator.',
        'Не сохранено: триггер пишет без одобрения (approve: write) — это могут только операторы. Попросите одобрять изменения (approve: ask с одобряющими) или обратитесь к оператору.',
      ),
    };
  const r = await core.engine.save(draft.pipeline, name, `bitrix:${state.bitrixUserId}`);
  if ('findings' in r)
    return {
      kind: 'refused',
      text: [
        t(state, `Not saved: it does not check clean.`, `Не сохранено: есть ошибки проверки.`),
        ...r.findings.slice(0, 5).map((f) => `• ${f.message}`),
      ].join('\n'),
    };
  state.draft = { ...draft, pipeline: { ...draft.pipeline, name }, at: nowIso(), name, version: r.version };
  if (!r.created)
    return {
      kind: 'info',
      text: t(
        state,
        `${r.name} version ${r.version} is the same; nothing saved.`,
        `${r.name} версии ${r.version} не изменился.`,
      ),
    };
  const changes =
    r.version > 1 && core.engine.savedPipelines ? diffLines(await savedDiff(core.engine.savedPipelines, name)) : [];
  return {
    kind: 'info',
    text: [
      t(
        state,
        `Saved as ${r.name} (version ${r.version}). Run it with /run ${r.name}; its schedule or event trigger runs in serve.`,
        `Сохранено как ${r.name} (версия ${r.version}). Запуск: /run ${r.name}; расписание или событие работает в serve.`,
      ),
      ...(changes.length
        ? [t(state, `Changes from version ${r.version - 1}:`, `Изменения с версии ${r.version - 1}:`), ...changes]
        : []),
    ].join('\n'),
  };
}

/**
 * `/edit <name>`: opens the latest version of a saved pipeline as the draft, shown in words; the next message may
 * change it and `/save` stores the change as the next version.
 */
export async function editCommand(core: AgentCore, state: AgentState, arg: string): Promise<AgentReply> {
  const store = core.engine.savedPipelines;
  if (!store) return noStore(state);
  const name = nameOf(arg);
  const saved = name ? await store.get(name) : undefined;
  if (!name || !saved) return unknownName(state, arg);
  const doc = parseYaml(saved.text) as Record<string, unknown>;
  state.draft = { pipeline: doc, at: nowIso(), name, version: saved.version };
  return {
    kind: 'info',
    text: [
      t(
        state,
        `Editing ${name} (version ${saved.version}${saved.disabled ? ', disabled' : ''}):`,
        `Редактирование ${name} (версия ${saved.version}${saved.disabled ? ', выключен' : ''}):`,
      ),
      describePipeline(doc, core.engine.catalog, state.lang),
      t(
        state,
        'Tell me what to change (for example "run it on Tuesdays"), then /save.',
        'Напишите, что изменить (например, «запускай по вторникам»), затем /save.',
      ),
    ].join('\n\n'),
  };
}

/**
 * `/disable <name>`, `/enable <name>`: stops (or resumes) a saved pipeline everywhere — serve lets it go at its next
 * poll. Its author or an operator only.
 */
export async function disableCommand(
  core: AgentCore,
  state: AgentState,
  arg: string,
  disabled: boolean,
): Promise<AgentReply> {
  const store = core.engine.savedPipelines;
  if (!store) return noStore(state);
  const name = nameOf(arg);
  const saved = name ? await store.get(name) : undefined;
  if (!name || !saved) return unknownName(state, arg);
  const who = state.bitrixUserId;
  if (!who || (saved.author !== `bitrix:${who}` && !(await core.engine.mayOperate(who))))
    return {
      kind: 'refused',
      text: t(
        state,
        `Only the author of ${name} or an operator may ${disabled ? 'disable' : 'enable'} it.`,
        `Только автор ${name} или оператор может ${disabled ? 'выключить' : 'включить'} его.`,
      ),
    };
  await store.setDisabled(name, disabled);
  return {
    kind: 'info',
    text: disabled
      ? t(state, `${name} is disabled: serve stops running it.`, `${name} выключен: serve больше не запускает его.`)
      : t(state, `${name} is enabled again.`, `${name} снова включён.`),
  };
}

/** True when a trigger of the document pre-approves writes (`approve: write`, `[write]`, …). */
function preApproves(doc: Record<string, unknown>): boolean {
  const triggers = Array.isArray(doc.triggers) ? (doc.triggers as Record<string, unknown>[]) : [];
  return triggers.some((tr) =>
    ['schedule', 'event'].some((k) => approvesWrite((tr?.[k] as { approve?: Approve } | undefined)?.approve)),
  );
}

/** `/versions <name>`: every version, oldest first, with its author and time. */
export async function versionsCommand(core: AgentCore, state: AgentState, arg: string): Promise<AgentReply> {
  const store = core.engine.savedPipelines;
  if (!store) return noStore(state);
  const name = nameOf(arg);
  const versions = name ? await store.versions(name) : [];
  if (!versions.length) return unknownName(state, arg);
  return {
    kind: 'info',
    text: versions
      .map((v) => `v${v.version}  ${v.savedAt.slice(0, 16).replace('T', ' ')} UTC  ${v.author ?? ''}`.trimEnd())
      .join('\n'),
  };
}

/** `/diff <name> [from] [to]`: what changed between two versions (default: the latest and the one before). */
export async function diffCommand(core: AgentCore, state: AgentState, arg: string): Promise<AgentReply> {
  const store = core.engine.savedPipelines;
  if (!store) return noStore(state);
  const [raw = '', from, to] = arg.split(/\s+/).filter(Boolean);
  const name = nameOf(raw);
  if (!name || !(await store.get(name))) return unknownName(state, raw);
  let patch: string;
  try {
    patch = await savedDiff(store, name, from, to);
  } catch (err) {
    return { kind: 'refused', text: (err as Error).message };
  }
  const lines = diffLines(patch);
  const head = /^--- (\S+)\n\+\+\+ (\S+)/m.exec(patch);
  return {
    kind: 'info',
    text: lines.length
      ? [head ? `${head[1]} → ${head[2]}` : name, ...lines].join('\n')
      : t(state, 'The two versions are the same.', 'Версии совпадают.'),
  };
}

/** The changed lines of a unified patch (`-`/`+` lines, with `@@` hunk marks), at most {@link MAX_DIFF_LINES}. */
function diffLines(patch: string): string[] {
  const lines = patch
    .split('\n')
    .filter((l) => /^[-+@]/.test(l) && !/^(---|\+\+\+) /.test(l))
    .map((l) => (l.startsWith('@@') ? '…' : l));
  return lines.length > MAX_DIFF_LINES ? [...lines.slice(0, MAX_DIFF_LINES), '…'] : lines;
}

function unknownName(state: AgentState, arg: string): AgentReply {
  return {
    kind: 'refused',
    text: t(
      state,
      `No saved pipeline "${arg.trim()}". Usage: /edit <name>, /versions <name>, /diff <name> [from] [to].`,
      `Нет сохранённого пайплайна «${arg.trim()}». Формат: /edit <имя>, /versions <имя>, /diff <имя> [с] [по].`,
    ),
  };
}
