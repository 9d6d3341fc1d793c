/**
 * What a read-only chat request shows instead of "Nothing to do": the pipeline's `outputs` (a report's text) when
 * it has them, else a short table of each list read (first rows, chosen columns, "… and K more").
 */

/** Rows shown per list read. */
const MAX_ROWS = 10;
/** Columns preferred in this order; the first ones present in the rows are shown (at most 4). */
const COLUMNS = ['ID', 'TITLE', 'NAME', 'LAST_NAME', 'STAGE_ID', 'STATUS_ID', 'OPPORTUNITY', 'ASSIGNED_BY_ID'];
const MAX_COLUMNS = 4;

function cell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** The rows of a read result: an array of records, or the `items`/`tasks` array Bitrix24 wraps some lists in. */
function rowsOf(v: unknown): Record<string, unknown>[] | undefined {
  const arr = Array.isArray(v)
    ? v
    : v && typeof v === 'object'
      ? ((v as Record<string, unknown>).items ?? (v as Record<string, unknown>).tasks)
      : undefined;
  if (!Array.isArray(arr)) return undefined;
  return arr.filter((r): r is Record<string, unknown> => !!r && typeof r === 'object' && !Array.isArray(r));
}

/** A short table of one list read: header, up to {@link MAX_ROWS} rows, "… and K more". */
function table(step: string, rows: Record<string, unknown>[], lang: 'en' | 'ru'): string[] {
  if (!rows.length) return [`${step}: ${lang === 'ru' ? 'ничего не найдено' : 'nothing found'}`];
  const keys = new Set(rows.flatMap((r) => Object.keys(r)));
  let cols = COLUMNS.filter((c) => keys.has(c)).slice(0, MAX_COLUMNS);
  if (!cols.length) cols = [...keys].slice(0, MAX_COLUMNS);
  const out = [`${step} (${rows.length}):`, cols.join(' | ')];
  for (const r of rows.slice(0, MAX_ROWS)) out.push(cols.map((c) => cell(r[c])).join(' | '));
  const more = rows.length - MAX_ROWS;
  if (more > 0) out.push(lang === 'ru' ? `… и ещё ${more}` : `… and ${more} more`);
  return out;
}

/**
 * The text shown for a read-only run.
 * @param reads results of the plan's reads by step id (`Plan.reads`)
 * @param outputs the run's evaluated `outputs`, when the pipeline has them (a report)
 * @returns lines (empty when there is nothing to show)
 */
export function formatReadResults(
  reads: Record<string, unknown> | undefined,
  outputs: Record<string, unknown> | undefined,
  lang: 'en' | 'ru',
): string {
  if (outputs && Object.keys(outputs).length) {
    return Object.entries(outputs)
      .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v, null, 2)}`)
      .join('\n')
      .slice(0, 3500);
  }
  const out: string[] = [];
  for (const [step, v] of Object.entries(reads ?? {})) {
    const rows = rowsOf(v);
    if (rows) out.push(...table(step, rows, lang));
    else if (v !== undefined && v !== null) out.push(`${step}: ${cell(v)}`);
  }
  return out.join('\n').slice(0, 3500);
}
