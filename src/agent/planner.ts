import OpenAI from 'openai';
import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import type { Finding } from '../lib/failures.js';
import { cardsForPacks, isChatDenied, routeMessage } from './context.js';
import type { ChatEngine } from './engine.js';
import { PLANNER_RESPONSE_SCHEMA } from './responseSchema.js';
import { type AgentState, summarizeState } from './state.js';

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
  /** The model's pipeline stayed invalid after one repair round. */
  | { kind: 'refused'; reply: string; findings: Finding[]; packs: string[] }
  /** No key or the model is unreachable: free-text planning is off. */
  | { kind: 'degraded'; reply: string; cause: string };

const SYSTEM_PROMPT = [
  "You are b24flow's planner for a Bitrix24 CRM. Turn the user's request into a pipeline that uses only the listed",
  'REST methods, or answer without a pipeline when nothing needs doing or a required value is unknown (then ask for it).',
  'Rules: exact method names from the list; params as in the cards (* = required, fields{...} = the fields object);',
  'literal values only, never placeholders; never invent ids - add a list step with a filter to find them, and refer',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the pipeline expression syntax, not a JS template
  'to its result with a whole-field CEL expression "${{ steps.<id>.result[0].ID }}"; a person confirms every write after seeing the plan, so just',
  "propose it. reply: one or two short sentences in the user's language, no method names, no ids.",
].join(' ');

/**
 * The LLM planner: message → pipeline JSON (a subset of `schemas/pipeline.schema.json`) through any
 * OpenAI-compatible chat-completions endpoint with structured output. Lean context: only the routed packs'
 * method cards and the user's state summary are sent. The result is checked by the same checker as a
 * hand-written pipeline; on findings the model gets one repair round with the checker's messages.
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

  /** False when no API key is configured (free-text planning off from the start). */
  get available(): boolean {
    return this.client !== undefined;
  }

  /**
   * The first request for a message: system rules, the routed packs' method cards, the state summary with the
   * self-check warnings, then the message; structured output with {@link PLANNER_RESPONSE_SCHEMA}.
   *
   * @param packs pack names whose cards are sent (normally {@link routeMessage}'s answer)
   */
  buildRequest(
    message: string,
    state: AgentState,
    packs: string[],
    warnings: string[] = [],
  ): ChatCompletionCreateParamsNonStreaming {
    const cards = cardsForPacks(this.opts.engine.catalog, packs, 'en');
    const context = [
      `Packs: ${packs.join(', ')}`,
      'Methods:',
      ...cards,
      '',
      `User state:\n${summarizeState(state)}`,
      warnings.length ? `Missing context: ${warnings.join(' ')}` : '',
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
        json_schema: { name: 'b24flow_plan', strict: false, schema: PLANNER_RESPONSE_SCHEMA },
      },
    };
  }

  /**
   * Plans a message. Routing, the model call, the guard (catalog, packs, chat deny-list), the checker and at most
   * one repair round.
   */
  async plan(message: string, state: AgentState, warnings: string[] = []): Promise<PlannerResult> {
    const lang = state.lang;
    if (!this.client) return { kind: 'degraded', reply: degradedText(lang, 'no-key'), cause: 'no-key' };
    const packs = routeMessage(this.opts.engine.catalog, message);
    const body = this.buildRequest(message, state, packs, warnings);
    let findings: Finding[] = [];
    let firstFindings: Finding[] = [];
    for (let attempt = 1; attempt <= 2; attempt++) {
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
      if (attempt === 1) {
        firstFindings = findings;
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
 * Checks planner output before the pipeline checker: every step is a plain `method` step, the method is in the
 * catalog, inside the routed packs, and not on the chat deny-list. Findings carry `/steps/<i>/method` fields.
 */
export function guardPipeline(engine: ChatEngine, json: Record<string, unknown>, packs: string[]): Finding[] {
  const out: Finding[] = [];
  const steps = Array.isArray(json.steps) ? (json.steps as Record<string, unknown>[]) : [];
  if (steps.length === 0) out.push(finding('/steps', 'the pipeline has no steps', 'chat-guard'));
  for (const [i, s] of steps.entries()) {
    if (!s || typeof s !== 'object') {
      out.push(finding(`/steps/${i}`, 'a step must be an object', 'chat-guard'));
      continue;
    }
    if ('pipeline' in s || 'use' in s) {
      out.push(finding(`/steps/${i}`, 'chat plans may only use method steps', 'chat-guard'));
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
    'Return the corrected answer in the same JSON format, using only the listed methods.',
  ].join('\n');
}

/** Plain-words refusal after the repair round failed. */
function refusalText(lang: 'en' | 'ru', findings: Finding[]): string {
  const reasons = findings.slice(0, 5).map((f) => `• ${f.message}`);
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
