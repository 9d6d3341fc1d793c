import { createRequire } from 'node:module';
import type { Finding } from '../../../lib/failures.js';
import type { Rule } from '../rule.js';

const require = createRequire(import.meta.url);

function validCron(expr: string): boolean {
  const mod = require('node-cron') as { validate(e: string): boolean; default?: { validate(e: string): boolean } };
  return (mod.validate ?? mod.default!.validate)(expr);
}

function validZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Schedules have a valid cron expression and time zones are known IANA zones (the pipeline's and each schedule's). */
export const triggerSyntax: Rule = {
  name: 'trigger',
  description: 'invalid cron expression or time zone',
  check(ctx) {
    const out: Omit<Finding, 'rule'>[] = [];
    const tz = ctx.p.pipeline.timezone;
    if (tz && !validZone(tz))
      out.push(ctx.at(['timezone'], `unknown time zone "${tz}" (IANA name, e.g. Europe/Moscow)`));
    (ctx.p.pipeline.triggers ?? []).forEach((t, i) => {
      if (!t.schedule) return;
      if (!validCron(t.schedule.cron))
        out.push(ctx.at(['triggers', i, 'schedule', 'cron'], `invalid cron expression "${t.schedule.cron}"`));
      if (t.schedule.timezone && !validZone(t.schedule.timezone))
        out.push(ctx.at(['triggers', i, 'schedule', 'timezone'], `unknown time zone "${t.schedule.timezone}"`));
    });
    return out;
  },
};
