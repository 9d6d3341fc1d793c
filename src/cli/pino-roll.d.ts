/**
 * Types of pino-roll 4 (it ships none): its default export opens a SonicBoom stream on a numbered file
 * (`<name>.<n><ext>`) that rolls past `size` (`<n>b|k|m|g`) and keeps `limit.count` earlier files. Other options go to
 * SonicBoom (`mode`, `mkdir`, `sync`).
 */
declare module 'pino-roll' {
  import type { SonicBoom, SonicBoomOpts } from 'sonic-boom';

  interface PinoRollOptions extends Omit<SonicBoomOpts, 'dest'> {
    file: string | (() => string);
    size?: string | number;
    frequency?: 'daily' | 'hourly' | number;
    extension?: string;
    symlink?: boolean;
    limit?: { count?: number; removeOtherLogFiles?: boolean };
    dateFormat?: string;
  }

  export default function pinoRoll(options: PinoRollOptions): Promise<SonicBoom>;
}
