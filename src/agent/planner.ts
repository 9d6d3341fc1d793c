import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import { PLANNER_RESPONSE_SCHEMA } from '../generated/planner-response.schema.js';
import type { Finding } from '../lib/failures.js';
import { cardsForPacks, isChatDenied, recipesForPacks, routeMessage } from './context.js';
import type { ChatEngine } from './engine.js';
import { pickExamples } from './plannerExamples.js';
import { type AgentState, currentDraft, summarizeState } from './state.js';

/**
 * Options of {@link Planner}. The composition root fills the endpoint settings from `OPENAI_API_KEY`,
 * `OPENAI_API_BASE`, `OPENAI_MODEL` and `OPENAI_TIMEOUT_MS` ({@link PlannerConfig}).
 */
export interface PlannerOptions {
  engine: ChatEngine;
  apiKey?: string;
  /** OpenAI-compatible endpoint, e.g. `http://127.0.0.1:8080/v1` (default: the SDK's). */
  baseURL?: string;
  /** Default `gpt-4.1-mini`. */
  model?: string;
  /** Per request, ms (default 30 000). */
  timeoutMs?: number;
  /** Called with the exact request body before each model call (bench and tests count its tokens). */
  onRequest?: (body: ChatCompletionCreateParamsNonStreaming) => void;
}

/** The model endpoint settings of a {@link Planner} (no key: free-text planning is off). */
export type PlannerConfig = Pick<PlannerOptions, 'apiKey' | 'baseURL' | 'model' | 'timeoutMs'>;

/** What the planner made of a message. */
export type PlannerResult =
  /** A checked pipeline ready to be planned (`pipeline` is the engine's loaded handle). */
  | {
      kind: 'pipeline';
      reply: string;
      json: Record<string, unknown>;
      pipeline: unknown;
      packs: string[];
      attempts: number;
      /** Findings of the first answer that the repair round fixed (for the missing-field statistics). */
      repaired?: Finding[];
    }
  /** The model answered without a pipeline (a question back, or nothing to do). */
  | { kind: 'answer'; reply: string; packs: string[] }
  /** The model's pipeline stayed invalid after {@link REPAIR_ROUNDS} repair rounds. */
  | { kind: 'refused'; reply: string; findings: Finding[]; packs: string[] }
  /** No key or the model is unreachable: free-text planning is off. */
  | { kind: 'degraded'; reply: string; cause: string };

/** How many shipped pipelines go into a request as examples (each ~150-300 tokens). */
const EXAMPLES_PER_REQUEST = 1;

/** Repair rounds after the first answer: each sends the checker's findings back to the model. */
export const REPAIR_ROUNDS = 2;

/* biome-ignore-start lint/suspicious/noTemplateCurlyInString: the pipeline expression syntax, not JS templates */
const SYSTEM_PROMPT = [
  "You are b24flow's planner for a Bitrix24 CRM. Answer {reply, pipeline}; pipeline is null when nothing needs doing",
  'or a required value is unknown (ask for it in reply).',
  'Steps call only the listed methods (exact names; params as in the cards: * = required, fields{...} = the fields',
  'object) or `use` a listed recipe with `with`. Values: literals, a whole-field CEL expression',
  '"${{ steps.find.result[0].ID }}", or {"$template": "Deal {{ item.TITLE }}"}. foreach runs a step per item;',
  'writes in a foreach get an idempotency_key. CEL: now, daysAgo(n), daysAhead(n), isoDate(t), isoDateTime(t),',
  'string(x), int(x), size(l), sumBy(l,"F"), groupSum(l,"K","F"), countBy(l,"K").',
  'Never invent ids: read them with a list step and a filter. Repeating requests get a schedule or event trigger',
  'with approve: ask and approvers {users: [ids]} (ask who approves if unknown); values to vary go to inputs.',
  'An event trigger passes inputs.event; inputs.event.objectId is the id of the lead/deal/contact/company.',
  "A person confirms every write after seeing the plan. reply: one or two short sentences in the user's language,",
  'no method names, no ids.',
].join(' ');
/* biome-ignore-end lint/suspicious/noTemplateCurlyInString: the pipeline expression syntax */

/**
 * The LLM planner: message → a pipeline in the schema of `pipelines/*.yaml` (steps graph, `foreach`, `if`, CEL
 * expressions, `use:` recipes, triggers, typed inputs, approvers) through any OpenAI-compatible chat-completions
 * endpoint with structured output ({@link PLANNER_RESPONSE_SCHEMA}, generated from `schemas/pipeline.schema.json`;
 * sent with `strict: false` because strict mode cannot express free-form params maps). Lean context: the routed
 * packs' method cards, the recipes that fit them, one or two trimmed shipped pipelines as examples, and the user's
 * state summary. The result is checked by the same checker as a hand-written pipeline; on findings the model gets
 * up to {@link REPAIR_ROUNDS} repair rounds with the checker's messages (field paths, no file positions).
 *
 * Never throws for model trouble: a missing key or an unreachable/invalid endpoint yields `degraded`.
 */
export class Planner {
  private readonly client?: OpenAI;
  readonly model: string;

  constructor(private readonly opts: PlannerOptions) {
    this.model = opts.model || 'gpt-4.1-mini';
    if (opts.apiKey) {
      this.client = new OpenAI({
        apiKey: opts.apiKey,
        ...(opts.baseURL ? { baseURL: opts.baseURL } : {}),
        timeout: opts.timeoutMs ?? 30_000,
        maxRetries: 1,
      });
    }
  }

  /** Builds a planner for an engine from the endpoint settings the composition root read. */
  static fromConfig(engine: ChatEngine, config: PlannerConfig): Planner {
    return new Planner({ ...config, engine });
  }

  private examplesCache?: Promise<Record<string, unknown>[]>;

  /** The engine's shipped pipeline documents, read once (none when the engine has no `examples`). */
  private exampleDocs(): Promise<Record<string, unknown>[]> {
    this.examplesCache ??= (this.opts.engine.examples?.() ?? Promise.resolve([])).catch(() => []);
    return this.examplesCache;
  }

  /** False when no API key is configured (free-text planning off from the start). */
  get available(): boolean {
    return this.client !== undefined;
  }

  /**
   * The first request for a message: system rules, the routed packs' method cards, the recipes that fit them, the
   * examples, the state summary with the self-check warnings, then the message; structured output with
   * {@link PLANNER_RESPONSE_SCHEMA}.
   *
   * @param packs pack names whose cards are sent (normally {@link routeMessage}'s answer)
   * @param examples trimmed example pipelines (JSON text, see {@link pickExamples})
   */
  buildRequest(
    message: string,
    state: AgentState,
    packs: string[],
    warnings: string[] = [],
    examples: string[] = [],
  ): ChatCompletionCreateParamsNonStreaming {
    const catalog = this.opts.engine.catalog;
    const cards = cardsForPacks(catalog, packs, 'en');
    const recipes = recipesForPacks(catalog, packs, 'en');
    const context = [
      `Packs: ${packs.join(', ')}`,
      'Methods:',
      ...cards,
      ...(recipes.length ? ['Recipes (use:):', ...recipes] : []),
      ...(examples.length ? ['Examples:', ...examples] : []),
      '',
      `User state:\n${summarizeState(state)}`,
      warnings.length ? `Missing context: ${warnings.join(' ')}` : '',
      draftContext(currentDraft(state)),
    ]
      .filter((l) => l !== '')
      .join('\n');
    return {
      model: this.model,
      temperature: 0,
      messages: [
        { role: 'system', content: SYSTEM_PROMPT },
        { role: 'system', content: context },
        { role: 'user', content: message },
      ],
      response_format: {
        type: 'json_schema',
        // strict mode needs every property required and no free-form maps: the pipeline schema cannot be strict
        json_schema: { name: 'b24flow_plan', strict: false, schema: PLANNER_RESPONSE_SCHEMA },
      },
    };
  }

  /**
   * Plans a message. Routing, the model call, the guard (catalog, packs, recipes, chat deny-list), the checker
   * and at most {@link REPAIR_ROUNDS} repair rounds; a proposal still failing then is `refused` with its findings.
   */
  async plan(message: string, state: AgentState, warnings: string[] = []): Promise<PlannerResult> {
    const lang = state.lang;
    if (!this.client) return { kind: 'degraded', reply: degradedText(lang, 'no-key'), cause: 'no-key' };
    // an edit of the current draft ("change it to Tuesdays") needs the draft's packs besides the message's
    const draftPacks = currentDraft(state)?.pipeline.packs;
    const packs = [
      ...new Set([
        ...routeMessage(this.opts.engine.catalog, message),
        ...(Array.isArray(draftPacks) ? draftPacks : []),
      ]),
    ]
      .filter((p): p is string => typeof p === 'string' && this.opts.engine.catalog.packs.some((k) => k.name === p))
      // one order whatever the message routed first: a saved edit diffs by what changed, not by pack order
      .sort();
    const examples = pickExamples(await this.exampleDocs(), packs, EXAMPLES_PER_REQUEST);
    const body = this.buildRequest(message, state, packs, warnings, examples);
    let findings: Finding[] = [];
    let firstFindings: Finding[] = [];
    for (let attempt = 1; attempt <= 1 + REPAIR_ROUNDS; attempt++) {
      let content: string;
      try {
        this.opts.onRequest?.(body);
        const res = await this.client.chat.completions.create(body);
        content = res.choices[0]?.message?.content ?? '';
      } catch (err) {
        return { kind: 'degraded', reply: degradedText(lang, 'unreachable'), cause: describeModelError(err) };
      }
      const parsed = parseAnswer(content);
      if (parsed.error) {
        findings = [finding('', parsed.error, 'model-output')];
      } else if (!parsed.pipeline) {
        return { kind: 'answer', reply: parsed.reply || fallbackReply(lang), packs };
      } else {
        const json = { ...parsed.pipeline, packs };
        findings = guardPipeline(this.opts.engine, json, packs);
        if (findings.length === 0) {
          const checked = await this.opts.engine.check(json, `chat:${state.userId}`);
          findings = checked.findings.filter((f) => f.severity === 'error');
          if (findings.length === 0) {
            return {
              kind: 'pipeline',
              reply: parsed.reply,
              json,
              pipeline: checked.pipeline,
              packs,
              attempts: attempt,
              ...(attempt > 1 ? { repaired: firstFindings } : {}),
            };
          }
        }
      }
      if (attempt === 1) firstFindings = findings;
      if (attempt <= REPAIR_ROUNDS) {
        body.messages = [
          ...body.messages,
          { role: 'assistant', content: content.slice(0, 8000) },
          { role: 'user', content: repairText(findings) },
        ];
      }
    }
    return { kind: 'refused', reply: refusalText(lang, findings), findings, packs };
  }
}

/**
 * The conversation's current pipeline for the model: a message asking for a change ("change it to Tuesdays") edits
 * it, keeping its name and everything the message does not mention; any other message is planned as new.
 */
export function draftContext(draft: AgentState['draft']): string {
  if (!draft) return '';
  const { packs: _packs, ...doc } = draft.pipeline;
  return [
    'Current pipeline (when the message asks to change it, answer the whole changed pipeline with the same name and',
    `everything not mentioned kept; otherwise ignore it):\n${JSON.stringify(doc)}`,
  ].join(' ');
}

/** Pipeline fields the chat planner may not set: reference-only methods and environment reads need an author. */
const CHAT_FORBIDDEN_FIELDS = ['allow', 'env'];

/**
 * Checks planner output before the pipeline checker: every step is a `method` step whose method is in the catalog,
 * inside the routed packs and not on the chat deny-list, or a `use:` step of a catalog recipe that fits the routed
 * packs; no sub-pipeline files, `allow` or `env`. Findings carry field paths such as `/steps/<i>/method`.
 */
export function guardPipeline(engine: ChatEngine, json: Record<string, unknown>, packs: string[]): Finding[] {
  const out: Finding[] = [];
  for (const k of CHAT_FORBIDDEN_FIELDS) {
    if (k in json) out.push(finding(`/${k}`, `"${k}" cannot be set from chat`, 'chat-guard'));
  }
  const steps = Array.isArray(json.steps) ? (json.steps as Record<string, unknown>[]) : [];
  if (steps.length === 0) out.push(finding('/steps', 'the pipeline has no steps', 'chat-guard'));
  for (const [i, s] of steps.entries()) {
    if (!s || typeof s !== 'object') {
      out.push(finding(`/steps/${i}`, 'a step must be an object', 'chat-guard'));
      continue;
    }
    if ('pipeline' in s) {
      out.push(
        finding(`/steps/${i}/pipeline`, 'chat plans cannot call pipeline files; use methods or recipes', 'chat-guard'),
      );
      continue;
    }
    if ('use' in s && !('method' in s)) {
      const name = String(s.use ?? '');
      const recipe = engine.catalog.recipes?.find((r) => r.recipe === name);
      if (!recipe) out.push(finding(`/steps/${i}/use`, `recipe "${name}" is not in the catalog`, 'unknown-recipe'));
      else if (!(recipe.packs ?? [recipe.pack]).every((p) => packs.includes(p))) {
        out.push(
          finding(
            `/steps/${i}/use`,
            `recipe "${name}" is outside the packs of this request (${packs.join(', ')})`,
            'outside-packs',
          ),
        );
      }
      continue;
    }
    const method = String(s.method ?? '');
    const entry = engine.catalog.method(method);
    if (!entry) out.push(finding(`/steps/${i}/method`, `method "${method}" is not in the catalog`, 'unknown-method'));
    else if (isChatDenied(entry.name)) {
      out.push(finding(`/steps/${i}/method`, `method "${entry.name}" is not allowed from chat`, 'chat-denied'));
    } else if (!entry.pack || !packs.includes(entry.pack)) {
      out.push(
        finding(
          `/steps/${i}/method`,
          `method "${entry.name}" is outside the packs of this request (${packs.join(', ')})`,
          'outside-packs',
        ),
      );
    }
  }

  return out;
}

function finding(field: string, message: string, rule: string): Finding {
  return { file: 'chat', line: 1, col: 1, field, message, rule, severity: 'error' };
}

function parseAnswer(content: string): { reply: string; pipeline?: Record<string, unknown>; error?: string } {
  let v: unknown;
  try {
    v = JSON.parse(content.trim().replace(/^```(?:json)?\s*|\s*```$/g, ''));
  } catch {
    return { reply: '', error: 'the answer is not valid JSON' };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { reply: '', error: 'the answer must be a JSON object' };
  const o = v as Record<string, unknown>;
  const reply = typeof o.reply === 'string' ? o.reply.slice(0, 1000) : '';
  if (o.pipeline === null || o.pipeline === undefined) return { reply };
  if (typeof o.pipeline !== 'object' || Array.isArray(o.pipeline))
    return { reply, error: '"pipeline" must be an object or null' };
  return { reply, pipeline: o.pipeline as Record<string, unknown> };
}

function repairText(findings: Finding[]): string {
  return [
    'The pipeline was rejected by the checker:',
    ...findings.slice(0, 20).map((f) => `- ${f.field ? `${f.field}: ` : ''}${f.message} [${f.rule}]`),
    'Return the corrected answer in the same JSON format, using only the listed methods and recipes.',
  ].join('\n');
}

/** Plain-words refusal after the repair rounds failed: the first findings, each as its message and field. */
function refusalText(lang: 'en' | 'ru', findings: Finding[]): string {
  const reasons = findings.slice(0, 5).map((f) => `• ${f.message}${f.field ? ` (${f.field})` : ''}`);
  return lang === 'ru'
    ? ['Не могу выполнить это безопасно: предложенный план не прошёл проверку. Ничего не изменено.', ...reasons].join(
        '\n',
      )
    : ["I can't do this safely: the proposed plan did not pass the checks. Nothing was changed.", ...reasons].join(
        '\n',
      );
}

function fallbackReply(lang: 'en' | 'ru'): string {
  return lang === 'ru' ? 'Уточните, пожалуйста, что нужно сделать.' : 'Could you say what needs doing?';
}

/** The message users get in degraded mode. */
export function degradedText(lang: 'en' | 'ru', cause: 'no-key' | 'unreachable'): string {
  if (lang === 'ru') {
    return cause === 'no-key'
      ? 'Свободный текст сейчас не обрабатывается: модель не настроена. Работают команды /pipelines, /run <имя> и фразы пайплайнов.'
      : 'Свободный текст сейчас не обрабатывается: модель недоступна. Работают команды /pipelines, /run <имя> и фразы пайплайнов.';
  }
  return cause === 'no-key'
    ? 'Free-text planning is off: no model is configured. Commands (/pipelines, /run <name>) and pipeline phrases still work.'
    : 'Free-text planning is off right now: the model is unreachable. Commands (/pipelines, /run <name>) and pipeline phrases still work.';
}

function describeModelError(err: unknown): string {
  if (err instanceof OpenAI.APIError) return `${err.constructor.name} ${err.status ?? ''}`.trim();
  return err instanceof Error ? err.name : 'error';
}
