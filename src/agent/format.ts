import type { PlanView, RunView } from './engine.js';

/**
 * Plain-text rendering of plans and run summaries for chat users (Telegram, HTTP API). No method names, no
 * secrets; writes are the engine's one-liners.
 */

const MAX_WRITES_SHOWN = 20;

/** Renders a plan: header with counts, risk and expiry, the writes, risk fields and the cost estimate. */
export function formatPlan(plan: PlanView, lang: 'en' | 'ru'): string {
  const n = plan.writes.length;
  const exp = plan.expiresAt ? `${plan.expiresAt.slice(11, 16)} UTC` : '';
  const risk = riskWord(plan.risk, lang);
  const lines: string[] = [];
  if (lang === 'ru') {
    lines.push(`План: изменений — ${n}, риск: ${risk}${exp ? `, действует до ${exp}` : ''}`);
  } else {
    lines.push(`Plan: ${n} ${n === 1 ? 'write' : 'writes'}, risk: ${risk}${exp ? `, valid until ${exp}` : ''}`);
  }
  for (const w of plan.writes.slice(0, MAX_WRITES_SHOWN)) {
    lines.push(`• ${w.risk === 'destructive' ? '⚠ ' : ''}${w.text}`);
  }
  if (n > MAX_WRITES_SHOWN) {
    lines.push(lang === 'ru' ? `… и ещё ${n - MAX_WRITES_SHOWN}` : `… and ${n - MAX_WRITES_SHOWN} more`);
    const byEntity = new Map<string, number>();
    for (const w of plan.writes) byEntity.set(w.entity ?? w.method, (byEntity.get(w.entity ?? w.method) ?? 0) + 1);
    lines.push(
      `${lang === 'ru' ? 'Всего' : 'In total'}: ${[...byEntity].map(([e, c]) => `${e.replace(/_/g, ' ')} ×${c}`).join(', ')}`,
    );
  }
  if (plan.riskFields.length) {
    lines.push(`${lang === 'ru' ? 'Рискованные поля' : 'Risk fields'}: ${plan.riskFields.join(', ')}`);
  }
  const cost = formatCost(plan.cost, lang);
  if (cost) lines.push(cost);
  if (plan.risk === 'destructive') {
    lines.push(
      lang === 'ru'
        ? 'План удаляет данные: понадобится второе подтверждение.'
        : 'This plan deletes data: it needs a second confirmation.',
    );
  }
  return lines.join('\n');
}

function formatCost(cost: PlanView['cost'], lang: 'en' | 'ru'): string {
  if (cost.text) return `${lang === 'ru' ? 'Стоимость' : 'Cost'}: ${cost.text}`;
  const parts: string[] = [];
  if (cost.calls !== undefined) parts.push(lang === 'ru' ? `${cost.calls} запросов` : `${cost.calls} REST calls`);
  if (cost.batches) parts.push(lang === 'ru' ? `${cost.batches} пакетов` : `${cost.batches} batches`);
  if (cost.seconds !== undefined) parts.push(`~${Math.max(1, Math.round(cost.seconds))} s`);
  return parts.length ? `${lang === 'ru' ? 'Стоимость' : 'Cost'}: ${parts.join(', ')}` : '';
}

/** The risk class in words. */
export function riskWord(risk: string, lang: 'en' | 'ru'): string {
  if (lang === 'ru') return risk === 'destructive' ? 'удаление' : risk === 'write' ? 'изменение' : 'чтение';
  return risk === 'destructive' ? 'destructive' : risk === 'write' ? 'write' : 'read';
}

/** Renders a run's friendly summary in the user's language. */
export function formatRun(run: RunView, lang: 'en' | 'ru'): string {
  const lines = (lang === 'ru' ? run.summary.ru : run.summary.en).filter(Boolean);
  const ok =
    run.status === 'succeeded' || run.status === 'success' || run.status === 'ok' || run.status === 'completed';
  const head =
    lang === 'ru'
      ? ok
        ? 'Готово.'
        : `Запуск завершён со статусом: ${run.status}.`
      : ok
        ? 'Done.'
        : `The run ended: ${run.status}.`;
  return [head, ...lines.map((l) => `• ${l}`)].join('\n');
}
