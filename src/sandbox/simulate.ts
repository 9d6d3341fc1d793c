/**
 * Realistic activity for `POST /sandbox/simulate {rate, seconds|count, kinds?, wait?}`: new leads, deal stage
 * moves, task changes, new deals, contact edits, timeline comments — performed through the same write paths
 * as the API, so every change fires its events (online and offline). Not a Bitrix24 endpoint: it stands in
 * for users working in the portal UI; the events it causes follow api-reference/events/index.md.
 */

import { ApiError } from './apiError.js';
import { crmWrites } from './methods/crmWrites.js';
import { createTask, updateTask } from './methods/taskRows.js';
import type { Portal } from './portal.js';
import { prng } from './prng.js';
import type { CallCtx } from './registry.js';

/** Activity kinds. */
export const SIM_KINDS = [
  'lead.add',
  'deal.move',
  'task.update',
  'deal.add',
  'contact.update',
  'task.add',
  'comment.add',
] as const;

/** Body of the simulate endpoint. */
export interface SimulateRequest {
  /** actions per (real) second, default 10 */
  rate?: number;
  seconds?: number;
  count?: number;
  kinds?: string[];
  /** answer only when all actions ran */
  wait?: boolean;
  seed?: number;
}

let simSeq = 0;

/** Starts (and with `wait` awaits) a simulation run; returns what was scheduled. */
export async function runSimulation(p: Portal, req: SimulateRequest): Promise<Record<string, unknown>> {
  const rate = Math.max(0.1, Number(req.rate ?? 10));
  const count = Math.max(0, Math.round(req.count ?? rate * Number(req.seconds ?? 1)));
  const kinds = (req.kinds?.length ? req.kinds : ['lead.add', 'deal.move', 'task.update']).filter((k) =>
    (SIM_KINDS as readonly string[]).includes(k),
  );
  if (!kinds.length)
    return { error: 'ERROR_ARGUMENT', error_description: `kinds must be among ${SIM_KINDS.join(', ')}` };
  const rnd = prng(req.seed ?? 1000 + ++simSeq);
  const done: Record<string, number> = {};
  const step = () => {
    const kind = kinds[Math.floor(rnd() * kinds.length)]!;
    const users = p.t.user.rows.filter((u) => u.ACTIVE);
    const user = users[Math.floor(rnd() * users.length)]!.ID as number;
    const ctx: CallCtx = {
      portal: p,
      userId: user,
      authKind: 'webhook',
      authKey: 'simulator',
      scopes: null,
      v3: false,
      inBatch: false,
      connector: '',
    };
    const any = (t: { rows: any[] }) => t.rows[Math.floor(rnd() * t.rows.length)];
    try {
      switch (kind) {
        case 'lead.add':
          crmWrites.insert(ctx, 'lead', {
            TITLE: `Заявка с сайта #${p.t.lead.nextId}`,
            NAME: 'Посетитель',
            SOURCE_ID: 'WEB',
            OPPORTUNITY: Math.floor(rnd() * 200) * 1000,
            PHONE: [{ VALUE: '+7900' + String(Math.floor(rnd() * 1e7)).padStart(7, '0'), VALUE_TYPE: 'WORK' }],
          });
          break;
        case 'deal.add':
          crmWrites.insert(ctx, 'deal', {
            TITLE: `Новая сделка #${p.t.deal.nextId}`,
            OPPORTUNITY: Math.floor(rnd() * 500) * 1000,
            ASSIGNED_BY_ID: user,
          });
          break;
        case 'deal.move': {
          const d = any(p.t.deal);
          if (!d) break;
          const stages = p.stages(d.CATEGORY_ID ?? 0);
          const open = stages.filter((s) => !s.SEMANTICS);
          const idx = stages.findIndex((s) => s.STATUS_ID === d.STAGE_ID);
          const next = idx >= 0 && idx + 1 < stages.length ? stages[idx + 1]! : open[0]!;
          crmWrites.update(ctx, 'deal', d, { STAGE_ID: next.STATUS_ID });
          break;
        }
        case 'contact.update': {
          const c = any(p.t.contact);
          if (c) crmWrites.update(ctx, 'contact', c, { POST: 'Менеджер', COMMENTS: `Обновлено ${p.nowIso()}` });
          break;
        }
        case 'task.add':
          createTask(
            ctx,
            { TITLE: 'Перезвонить клиенту', RESPONSIBLE_ID: user },
            () => new ApiError(400, 'ERROR_CORE', 'bad task'),
          );
          break;
        case 'task.update': {
          const t = any(p.t.task);
          if (t) updateTask(ctx, t, { STATUS: t.STATUS === 5 ? 2 : Math.min(t.STATUS + 1, 5) });
          break;
        }
        case 'comment.add': {
          const d = any(p.t.deal);
          if (!d) break;
          const row = p.t.timeline_comment.insert({
            ENTITY_ID: d.ID,
            ENTITY_TYPE: 'deal',
            CREATED: p.clock.now(),
            COMMENT: 'Клиент перезвонил',
            AUTHOR_ID: user,
            FILES: null,
          });
          p.events.fire('ONCRMTIMELINECOMMENTADD', { FIELDS: { ID: row.ID } }, `timeline_comment:${row.ID}`);
          break;
        }
      }
      done[kind] = (done[kind] ?? 0) + 1;
    } catch (e) {
      p.opts.log(`simulate ${kind}: ${(e as Error).message}`);
    }
  };
  const periodMs = 1000 / rate;
  const tick = Math.max(10, periodMs);
  const perTick = Math.max(1, Math.round(tick / periodMs));
  let left = count;
  const finished = new Promise<void>((resolve) => {
    if (left === 0) return resolve();
    const run = () => {
      for (let i = 0; i < perTick && left > 0; i++, left--) step();
      p.dirty();
      if (left > 0) setTimeout(run, tick).unref();
      else resolve();
    };
    run();
  });
  if (req.wait) {
    await finished;
    return { scheduled: count, done };
  }
  return { scheduled: count, durationMs: Math.round((count / rate) * 1000), kinds };
}
