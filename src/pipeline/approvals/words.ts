/**
 * A request in plain words for the people who decide: what changes (names, not ids), who may approve, who did,
 * its state and expiry. Used by the CLI (`approvals show`), the Telegram courier and the HTTP API.
 */
import type { ApprovalService } from './service.js';
import type { StoredApproval } from './types.js';

/** Shown writes per request (the rest are counted). */
const MAX_WRITES = 20;

/** Value in a line: short, strings quoted. */
function val(v: unknown): string {
  const s = typeof v === 'string' ? `"${v}"` : v === null || v === undefined ? '—' : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

/**
 * The lines of a request: header (pipeline, run, state, expiry), the writes, approvers and decisions.
 * @param lang en | ru
 */
export async function approvalLines(svc: ApprovalService, a: StoredApproval, lang: 'en' | 'ru'): Promise<string[]> {
  const ru = lang === 'ru';
  const q = a.request;
  const dir = svc.o.directory;
  const name = async (u: string) => `${await dir.nameOf(u)} (#${u})`;
  const lines = [
    ru
      ? `Запрос ${q.id}: пайплайн ${q.pipeline.name}, запуск ${q.runId} — ${a.state}`
      : `Request ${q.id}: pipeline ${q.pipeline.name}, run ${q.runId} — ${a.state}`,
  ];
  if (q.owner) lines.push(ru ? `Записи пользователя ${await name(q.owner)}` : `Records of ${await name(q.owner)}`);
  const writes = await svc.writesOf(a).catch(() => []);
  const shown = await svc.describe(writes.slice(0, MAX_WRITES), lang);
  for (const [i, w] of writes.slice(0, MAX_WRITES).entries()) {
    const text =
      shown[i] ??
      `${w.method}${w.record ? ` #${w.record.id}` : ''}${w.diff?.length ? `: ${w.diff.map((d) => `${d.field} ${val(d.before)} → ${val(d.after)}`).join('; ')}` : ''}`;
    lines.push(`• ${w.risk === 'destructive' ? '⚠ ' : ''}${text}`);
  }
  if (writes.length > MAX_WRITES)
    lines.push(ru ? `… и ещё ${writes.length - MAX_WRITES}` : `… and ${writes.length - MAX_WRITES} more`);
  const approvers = await Promise.all(q.approvers.map(name));
  lines.push(
    ru ? `Одобряют: ${approvers.join(', ')} (нужно ${q.min})` : `Approvers: ${approvers.join(', ')} (${q.min} needed)`,
  );
  for (const d of a.decisions)
    lines.push(
      `${d.decision === 'approve' ? '✓' : '✗'} ${await name(d.by)} ${d.decision === 'approve' ? (ru ? 'одобрил(а)' : 'approved') : ru ? 'отклонил(а)' : 'rejected'} (${d.via}, ${d.at})${d.reason ? `: ${d.reason}` : ''}`,
    );
  if (q.destructive)
    lines.push(
      ru
        ? 'Запрос удаляет данные: нужно второе, явное подтверждение.'
        : 'This request deletes data: it needs a second, explicit confirmation.',
    );
  lines.push(ru ? `Истекает: ${q.expiresAt}` : `Expires: ${q.expiresAt}`);
  if (a.note) lines.push(a.note);
  if (!a.verified) lines.push(ru ? '✗ Запрос изменён вне b24flow.' : '✗ This request was changed outside b24flow.');
  return lines;
}
