/**
 * The service log of `b24flow serve`: pino JSON lines (`level`, `time` ISO, `msg`, `pid`, `hostname`) on stderr —
 * pretty-printed by pino-pretty when stderr is a terminal — and, with `B24FLOW_LOG_FILE`, also in that file, rotated
 * by pino-roll past `B24FLOW_LOG_MAX_MB` (default 10) with 5 earlier files kept, mode 0600.
 *
 * Every message goes through the one redaction of src/lib/redact.ts (a pino `logMethod` hook redacts each string
 * argument before pino formats the line), so no second list of secrets exists here.
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import { redact } from '../lib/redact.js';
import { megabytesOf } from './logSizes.js';

/** Rotated service log files kept besides the current one. */
const KEEP_FILES = 5;

/** A service log: `log(line)` writes one info line; `close()` flushes the file. */
export interface ServeLog {
  /** Writes `line` as the `msg` of an info line (redacted). */
  log(line: string): void;
  /** Writes `line` as the `msg` of a warn line (redacted). */
  warn(line: string): void;
  /** Flushes and closes the file destination (stderr stays open). */
  close(): Promise<void>;
}

/** What {@link openServeLog} writes to; tests pass a stream and `tty`. */
export interface ServeLogOptions {
  env: NodeJS.ProcessEnv;
  /** Where the lines go (default fd 2, written synchronously). */
  stderr?: DestinationStream;
  /** Whether stderr is a terminal (default `process.stderr.isTTY`): then lines are pretty-printed. */
  tty?: boolean;
}

/**
 * Opens serve's log.
 * @throws InvalidInputError for a bad `B24FLOW_LOG_MAX_MB`; the file's error when `B24FLOW_LOG_FILE` cannot be
 *   created
 */
export async function openServeLog(o: ServeLogOptions): Promise<ServeLog> {
  const tty = o.tty ?? process.stderr.isTTY === true;
  let err: DestinationStream;
  if (o.stderr) err = o.stderr;
  else if (tty) {
    const { default: pretty } = await import('pino-pretty');
    err = pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:standard' });
  } else err = pino.destination({ dest: 2, sync: true });
  const streams: { stream: DestinationStream }[] = [{ stream: err }];
  const file = o.env.B24FLOW_LOG_FILE;
  let roll: import('sonic-boom').SonicBoom | undefined;
  if (file) {
    const maxBytes = megabytesOf(o.env, 'B24FLOW_LOG_MAX_MB', 10);
    const { default: pinoRoll } = await import('pino-roll');
    roll = await pinoRoll({
      file,
      size: `${maxBytes}b`,
      limit: { count: KEEP_FILES },
      mkdir: true,
      mode: 0o600,
    });
    streams.push({ stream: roll });
  }
  const logger: Logger = pino(
    {
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map((a) => (typeof a === 'string' ? redact(a) : a)) as Parameters<typeof method>);
        },
      },
    },
    streams.length === 1 ? err : pino.multistream(streams),
  );
  return {
    log: (line) => logger.info(line),
    warn: (line) => logger.warn(line),
    close: () =>
      new Promise<void>((resolve) => {
        if (!roll) return resolve();
        roll.once('close', () => resolve());
        roll.end();
      }),
  };
}
