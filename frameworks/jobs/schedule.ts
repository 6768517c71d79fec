// A job's schedule: an ISO 8601 repeating interval (Chronos) or a 5-field cron expression, behind one
// question the planner asks: "the first occurrence at or after t?".
import { assertNever } from '../../common/index.js';
import { cronNextAfter, looksLikeCron, parseCron, type CronExpression } from './cron.js';
import { firstAtOrAfter, parseRepeatingInterval, type RepeatingInterval } from './iso8601.js';

export type Schedule = { kind: 'iso8601'; interval: RepeatingInterval } | { kind: 'cron'; cron: CronExpression };

/** Parses `schedule` (ISO 8601 `R[n]/start/period`, or cron); errors name `field`/`zoneField`. */
export function parseSchedule(text: string, zone: string | undefined, field = 'schedule', zoneField = 'scheduleTimeZone'): Schedule {
  if (looksLikeCron(text)) return { kind: 'cron', cron: parseCron(text, field, zone ?? 'UTC', zoneField) };
  return { kind: 'iso8601', interval: parseRepeatingInterval(text, field, zone ?? 'UTC', zoneField) };
}

/** The first occurrence at or after `t` (ms), or undefined when the schedule has no more. */
export function nextOccurrence(schedule: Schedule, t: number): number | undefined {
  switch (schedule.kind) {
    case 'iso8601':
      return firstAtOrAfter(schedule.interval, t);
    case 'cron':
      return cronNextAfter(schedule.cron, t - 1);
    default:
      return assertNever(schedule, 'schedule');
  }
}

