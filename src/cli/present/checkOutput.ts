/**
 * What `b24flow check` prints for checked files: each finding as `file:line:col: message [rule]`, then a one-line
 * cost summary for each file without errors; or, with `--json`, `{ findings, cost }`. Kept apart from the checker so
 * that a result-cache hit prints without loading it.
 */
import { formatFinding } from '../../lib/failures.js';
import type { CheckedFile } from '../../pipeline/check/files.js';
import { type Colors, colorsFor } from './colors.js';
import { jsonText } from './jsonOut.js';

/**
 * The text `check` writes to stdout.
 *
 * @param files outcomes in the order the files were given
 * @param opts `json` for the machine format; `items` is the assumed rows per list shown with assumed costs; `colors`
 *   defaults to stdout's (errors red, warnings yellow, the ok summary green)
 */
export function formatCheck(
  files: CheckedFile[],
  opts: { json?: boolean; items?: number; colors?: Colors } = {},
): string {
  const c = opts.colors ?? colorsFor(process.stdout);
  if (opts.json) {
    const cost: Record<string, unknown> = {};
    for (const f of files) if (f.cost) cost[f.file] = f.cost;
    return jsonText({ findings: files.flatMap((f) => f.findings), cost });
  }
  const lines: string[] = [];
  for (const { file, findings, cost } of files) {
    for (const f of findings)
      lines.push(
        f.severity === 'error'
          ? c.red(formatFinding(f))
          : f.severity === 'warning'
            ? c.yellow(formatFinding(f))
            : formatFinding(f),
      );
    if (cost && !findings.some((f) => f.severity === 'error'))
      lines.push(
        `${file}: ${c.green('ok')} — about ${cost.calls} calls in ${cost.requests} requests (${cost.requestsUnbatched} without batching), ~${cost.seconds} s, operating-budget risk ${cost.operatingRisk}${cost.assumed ? ` (assuming ${opts.items ?? 100} rows per list)` : ''}`,
      );
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** Number of error findings in the outcomes. */
export function errorCount(files: CheckedFile[]): number {
  return files.reduce((n, f) => n + f.findings.filter((x) => x.severity === 'error').length, 0);
}
