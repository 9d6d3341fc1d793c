/**
 * Alerts to people: a scheduled, event-started or approved run that failed, and a dead-letter queue that grew past
 * its threshold, are told to the error chat (`TELEGRAM_ERROR_CHAT_ID`) and, for a run, to the approvers its
 * pipeline names (`approvers.users`, through their linked chats). A failure is told once by this process (runs that
 * ended before it started are not told again); the queue alert fires when the size crosses the threshold upwards.
 */
import type { Bot } from 'grammy';
import type { Journal, RunRecord } from '../../pipeline/index.js';
import type { ApprovalLinks } from './approvals.js';

/** Options of {@link startAlerts}. */
export interface AlertOptions {
  journal: Journal;
  /** The dead-letter queue's size (events that failed every attempt). */
  deadLetters?: { size(): Promise<number> };
  /** Where alerts go (a chat id); absent: only approvers are told. */
  errorChatId?: string;
  /** Dead letters above which the queue alert fires (default 10). */
  dlqThreshold?: number;
  links?: ApprovalLinks;
  /** The portal the chat links belong to. */
  portal?: string;
  /** How often to look, ms (default 10 000). */
  pollMs?: number;
  log?: (line: string) => void;
}

/** The alert loop of a bot. */
export interface Alerts {
  tick(): Promise<void>;
  stop(): Promise<void>;
}

const UNATTENDED = new Set(['schedule', 'event', 'approval']);

/** The approvers a pipeline object names (`approvers.users`). */
function listedApprovers(run: RunRecord): string[] {
  const a = (run.pipeline.object as { approvers?: { users?: unknown[] } } | undefined)?.approvers;
  return Array.isArray(a?.users) ? a.users.map(String) : [];
}

/** Starts the alert loop (see module doc). */
export function startAlerts(bot: Bot, o: AlertOptions): Alerts {
  const since = Date.now();
  const told = new Set<string>();
  let dlqOver = false;
  const log = o.log ?? (() => {});
  const send = (chat: string, text: string) =>
    bot.api.sendMessage(chat, text.slice(0, 3500)).catch((e: unknown) => log(`alerts: to ${chat}: ${String(e)}`));

  const tick = async () => {
    const failed = await o.journal.list({ status: 'failed', limit: 50 });
    for (const run of failed) {
      const kind = String(run.trigger?.kind ?? 'cli');
      const ended = Date.parse(run.finishedAt ?? run.startedAt);
      if (!UNATTENDED.has(kind) || told.has(run.runId) || !(ended >= since)) continue;
      told.add(run.runId);
      const what =
        kind === 'schedule'
          ? `schedule ${String(run.trigger?.cron ?? '')}`
          : kind === 'event'
            ? `event ${String((run.trigger?.event as { name?: string } | undefined)?.name ?? '')}`
            : `approval ${String(run.trigger?.approval ?? '')}`;
      const text = `❌ b24flow: run ${run.runId} of pipeline ${run.pipeline.name} (${what}) failed: ${(run.error ?? 'see b24flow runs').slice(0, 500)}`;
      if (o.errorChatId) await send(o.errorChatId, text);
      for (const u of listedApprovers(run))
        for (const c of (await o.links?.chatsOf(u, o.portal ?? '').catch(() => [])) ?? [])
          await send(c.replace(/^tg:/, ''), text);
    }
    if (o.deadLetters) {
      const size = await o.deadLetters.size();
      const limit = o.dlqThreshold ?? 10;
      if (size > limit && !dlqOver && o.errorChatId)
        await send(
          o.errorChatId,
          `⚠ b24flow: the dead-letter queue holds ${size} events (threshold ${limit}). /dlq lists them; /dlq replay <id> runs one again.`,
        );
      dlqOver = size > limit;
    }
  };
  let stopped = false;
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(() => (stopped ? undefined : tick().catch((e: unknown) => log(`alerts: ${String(e)}`))));
  }, o.pollMs ?? 10_000);
  timer.unref();
  return {
    tick,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
