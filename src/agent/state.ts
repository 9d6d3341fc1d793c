import { createHash } from 'node:crypto';

/**
 * Per-user memory of the chat agent: what the user wants, which CRM objects the conversation is about,
 * the last plan shown, what was done (with object ids) and statistics about missing fields and risk fields.
 * Timestamps are UTC ISO 8601 with `Z`.
 */
export interface AgentState {
  /** Chat-level user id, e.g. `tg:123456` or `api:crm-bot`. */
  userId: string;
  /** Bitrix24 user id the chat user is linked to (`/link`); unlinked users cannot confirm writes. */
  bitrixUserId?: string;
  /** Language of the last message, for replies and summaries. */
  lang: 'en' | 'ru';
  /** Newest first, at most 10. */
  goals: { text: string; at: string }[];
  /** Requests in flight (set while a plan is being built, cleared when answered). */
  inProgress: { description: string; requestedAt: string }[];
  /** Objects the conversation is about: `current_deal_id`, `current_contact_id`, ... */
  objects: Record<string, string>;
  /** The last plan shown to the user (the pipeline is kept so a drifted plan can be re-planned). */
  lastPlan?: {
    at: string;
    planId: string;
    summary: string;
    pipeline: unknown;
    inputs?: Record<string, unknown>;
    source: 'planner' | 'named';
    pipelineName?: string;
    risk: string;
    expiresAt?: string;
    /** Set once the first of the two confirmations for a destructive plan has been given. */
    destructiveArmed?: boolean;
    status: 'proposed' | 'applied' | 'cancelled' | 'refused';
  };
  /**
   * The pipeline the conversation is about: the planner's last checked proposal, or a saved pipeline opened with
   * `/edit`. `/save` keeps it; the planner gets it with the next message so "change it to Tuesdays" edits it.
   * `name`/`version` are set once it is saved (or opened): saving again makes the next version of that name.
   */
  draft?: { pipeline: Record<string, unknown>; at: string; name?: string; version?: number };
  /** Newest first, at most 50. */
  done: { at: string; description: string; objectIds: string[]; runId?: string }[];
  metrics: {
    /** `method.field` → how often the checker found it missing. */
    missingFields: Record<string, number>;
    /** risk field (OPPORTUNITY, ASSIGNED_BY_ID, ...) → how often a plan touched it. */
    riskWarnings: Record<string, number>;
    messages: number;
    plans: number;
    refusals: number;
  };
  updatedAt: string;
}

/** A fresh state for a user never seen before. */
export function emptyState(userId: string): AgentState {
  return {
    userId,
    lang: 'en',
    goals: [],
    inProgress: [],
    objects: {},
    done: [],
    metrics: { missingFields: {}, riskWarnings: {}, messages: 0, plans: 0, refusals: 0 },
    updatedAt: nowIso(),
  };
}

/** How long a draft stays the conversation's subject after it was proposed, saved or opened: 2 h. */
export const DRAFT_TTL_MS = 2 * 3600_000;

/** The user's draft while it is current ({@link DRAFT_TTL_MS}), else undefined. @param now ms since epoch */
export function currentDraft(state: AgentState, now = Date.now()): AgentState['draft'] {
  const d = state.draft;
  return d && now - Date.parse(d.at) < DRAFT_TTL_MS ? d : undefined;
}

/** Current time as UTC ISO 8601 with `Z`. */
export function nowIso(): string {
  return new Date().toISOString();
}

/**
 * File-safe name for a user id: readable prefix plus a short hash so `tg:1` and `tg_1` never collide and no
 * user id can traverse directories.
 */
export function userFileKey(userId: string): string {
  const readable = userId.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 40);
  const hash = createHash('sha256').update(userId).digest('hex').slice(0, 10);
  return `${readable}-${hash}`;
}

/**
 * Where agent states live: the store's `agent_state` table in the CLI (src/store/agentState.ts, one row per user,
 * shared by every process on the store), {@link MemoryStateStore} in tests. Callers serialise access per user (see
 * {@link KeyedQueue}); implementations keep no cache, so two processes see each other's last complete write.
 */
export interface StateStore {
  /** A user's state; {@link emptyState} when none is stored (an unreadable one counts as none). */
  load(userId: string): Promise<AgentState>;
  /** Stores a user's state (sets `updatedAt`), durable when the promise resolves. */
  save(state: AgentState): Promise<void>;
}

/**
 * A stored state document merged over {@link emptyState}: fields added by later versions get their defaults; a
 * document that does not parse counts as missing rather than blocking the user forever.
 */
export function reviveState(userId: string, json: string | undefined): AgentState {
  if (json === undefined) return emptyState(userId);
  let raw: Partial<AgentState>;
  try {
    raw = JSON.parse(json) as Partial<AgentState>;
  } catch {
    return emptyState(userId);
  }
  if (!raw || typeof raw !== 'object') return emptyState(userId);
  const base = emptyState(userId);
  return { ...base, ...raw, userId, metrics: { ...base.metrics, ...(raw.metrics ?? {}) } } as AgentState;
}

/** States in memory (tests, one-shot runs). */
export class MemoryStateStore implements StateStore {
  private readonly docs = new Map<string, string>();
  async load(userId: string): Promise<AgentState> {
    return reviveState(userId, this.docs.get(userId));
  }
  async save(state: AgentState): Promise<void> {
    state.updatedAt = nowIso();
    this.docs.set(state.userId, JSON.stringify(state));
  }
}

/** Adds a goal (newest first, deduplicated, at most 10). */
export function addGoal(state: AgentState, text: string): void {
  const t = text.trim().slice(0, 300);
  if (!t) return;
  state.goals = [{ text: t, at: nowIso() }, ...state.goals.filter((g) => g.text !== t)].slice(0, 10);
}

/** Records finished work with the CRM object ids it produced or touched (newest first, at most 50). */
export function addDone(state: AgentState, description: string, objectIds: string[], runId?: string): void {
  state.done = [{ at: nowIso(), description, objectIds, ...(runId ? { runId } : {}) }, ...state.done].slice(0, 50);
}

/** Counts missing-field findings (`crm.deal.add.fields.TITLE` → n). */
export function countMissing(state: AgentState, paths: string[]): void {
  for (const p of paths) state.metrics.missingFields[p] = (state.metrics.missingFields[p] ?? 0) + 1;
}

/** Counts risk fields touched by a plan. */
export function countRisk(state: AgentState, fields: string[]): void {
  for (const f of fields) state.metrics.riskWarnings[f] = (state.metrics.riskWarnings[f] ?? 0) + 1;
}

/**
 * Self-check before a model call: warns about missing context so the reply can ask for it instead of the
 * model guessing. Returns human sentences (empty = nothing missing).
 *
 * Warns when: there is no goal; recent work produced object ids but no current object is set; an in-progress
 * item has no description; a plan is still waiting for confirmation.
 */
export function selfCheck(state: AgentState): string[] {
  const w: string[] = [];
  const ru = state.lang === 'ru';
  if (state.goals.length === 0) w.push(ru ? 'Цель разговора пока не известна.' : 'No goal is known yet.');
  const recentIds = state.done.slice(0, 5).some((d) => d.objectIds.length > 0);
  if (recentIds && Object.keys(state.objects).length === 0) {
    w.push(
      ru
        ? 'Недавняя работа создала объекты, но текущий объект не выбран.'
        : 'Recent work produced objects, but no current object is set.',
    );
  }
  if (state.inProgress.some((i) => !i.description.trim())) {
    w.push(ru ? 'Есть незавершённый запрос без описания.' : 'An unfinished request has no description.');
  }
  if (
    state.lastPlan?.status === 'proposed' &&
    state.lastPlan.expiresAt &&
    Date.parse(state.lastPlan.expiresAt) > Date.now()
  ) {
    w.push(ru ? 'Предыдущий план ещё ждёт подтверждения.' : 'The previous plan is still waiting for confirmation.');
  }
  return w;
}

/**
 * Short text summary of a state for the model (goals, current objects, last done items, frequent missing
 * fields). No secrets, no raw plans; at most ~600 characters.
 */
export function summarizeState(state: AgentState): string {
  const lines: string[] = [];
  if (state.goals.length)
    lines.push(
      `Goals: ${state.goals
        .slice(0, 3)
        .map((g) => g.text)
        .join(' | ')}`,
    );
  const objs = Object.entries(state.objects);
  if (objs.length) lines.push(`Current objects: ${objs.map(([k, v]) => `${k}=${v}`).join(', ')}`);
  if (state.done.length) {
    lines.push(
      `Done recently: ${state.done
        .slice(0, 3)
        .map((d) => `${d.description}${d.objectIds.length ? ` (ids ${d.objectIds.slice(0, 5).join(',')})` : ''}`)
        .join(' | ')}`,
    );
  }
  const missing = Object.entries(state.metrics.missingFields)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3);
  if (missing.length) lines.push(`Often missing: ${missing.map(([k]) => k).join(', ')}`);
  if (state.bitrixUserId) lines.push(`Bitrix24 user id: ${state.bitrixUserId}`);
  const text = lines.join('\n');
  return text.length > 600 ? `${text.slice(0, 597)}...` : text || 'No history yet.';
}
