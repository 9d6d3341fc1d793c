/**
 * Colour for the human outputs, decided per stream: off when `NO_COLOR` is set to any non-empty value
 * (https://no-color.org), on when `FORCE_COLOR` is set (and not `0`/`false`), otherwise on only when the stream is a
 * terminal (and `TERM` is not `dumb`). Pipes and files never get escape codes, so `--json` and golden outputs are
 * unaffected. picocolors' own detection is not used because it turns colour on whenever `CI` is set.
 */
import pc from 'picocolors';

/** The picocolors formatters (`red`, `yellow`, `bold`...). */
export type Colors = ReturnType<typeof pc.createColors>;

/** Whether output written to `stream` is coloured, per the rules above. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  return !!stream.isTTY && env.TERM !== 'dumb';
}

const cache = new WeakMap<object, Colors>();

/** The formatters for `stream` (identity functions when colour is off). */
export function colorsFor(stream: NodeJS.WriteStream = process.stdout): Colors {
  let c = cache.get(stream);
  if (!c) {
    c = pc.createColors(colorEnabled(stream));
    cache.set(stream, c);
  }
  return c;
}

/** Colours a run or step status word: green for success, red for failure, yellow for anything in between. */
export function paintStatus(c: Colors, status: string, text: string = status): string {
  if (status === 'completed' || status === 'done' || status === 'ok') return c.green(text);
  if (status === 'failed' || status === 'interrupted') return c.red(text);
  if (status === 'running' || status === 'planned') return c.cyan(text);
  return c.yellow(text);
}
