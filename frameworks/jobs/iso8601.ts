// ISO 8601 durations (`P1DT2H`) and repeating intervals (`R[n]/start/period`), as Chronos schedules jobs.
// Occurrence k is start + k×period: the calendar part (years, months, weeks, days) in the wall time of
// the schedule's zone, so a daily job stays at its hour across DST changes; the clock part in real time.
import { ValidationError } from '../../common/index.js';
import { checkTimeZone, fromWall, toWall, utcAsWall, wallAsUtc, type WallTime } from './time-zone.js';

export interface IsoDuration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  /** Hours, minutes and seconds together. */
  clockMs: number;
}

const DURATION = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

export function parseDuration(text: string, field: string): IsoDuration {
  const m = DURATION.exec(text.trim());
  if (!m || text.trim() === 'P' || text.trim().endsWith('T')) {
    throw new ValidationError(field, `'${text}' is not an ISO 8601 duration (e.g. PT30S, PT1H, P1D, P1M)`);
  }
  const n = (i: number): number => Number((m[i] ?? '0').replace(',', '.'));
  const duration: IsoDuration = {
    years: n(1),
    months: n(2),
    weeks: n(3),
    days: n(4),
    clockMs: Math.round((n(5) * 3600 + n(6) * 60 + n(7)) * 1000),
  };
  if (approximateMs(duration) <= 0) throw new ValidationError(field, `'${text}' must be longer than zero`);
  return duration;
}

/** Fixed-length durations only (no calendar part): milliseconds, else undefined. */
export function fixedMs(d: IsoDuration): number | undefined {
  return d.years === 0 && d.months === 0 && d.weeks === 0 && d.days === 0 ? d.clockMs : undefined;
}

export function approximateMs(d: IsoDuration): number {
  const day = 86_400_000;
  return d.years * 365.2425 * day + d.months * 30.436875 * day + d.weeks * 7 * day + d.days * day + d.clockMs;
}

export interface RepeatingInterval {
  /** undefined: repeat forever (`R/…`). */
  repetitions: number | undefined;
  /** The first occurrence (an instant). */
  start: number;
  period: IsoDuration;
  /** The zone calendar arithmetic happens in. */
  zone: string;
}

const START = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * `R[n]/start/period`. A start without an offset is wall time in `zone` (Chronos's scheduleTimeZone);
 * `zone` defaults to UTC. Errors name `field` (and `zoneField` for a bad zone).
 */
export function parseRepeatingInterval(text: string, field: string, zone = 'UTC', zoneField = 'scheduleTimeZone'): RepeatingInterval {
  checkTimeZone(zone, zoneField);
  const parts = text.trim().split('/');
  const [r, startText, periodText] = parts;
  if (parts.length !== 3 || r === undefined || startText === undefined || periodText === undefined) {
    throw new ValidationError(field, `'${text}' is not an ISO 8601 repeating interval R[n]/start/period (e.g. R/2024-01-01T00:00:00Z/PT1H)`);
  }
  const rm = /^R(\d*)$/.exec(r);
  if (!rm) throw new ValidationError(field, `'${r}' must be R or Rn (n repetitions)`);
  const repetitions = rm[1] === '' || rm[1] === undefined ? undefined : Number(rm[1]);
  const start = parseStart(startText, field, zone);
  const period = parseDuration(periodText, field);
  return { repetitions, start, period, zone };
}

function parseStart(text: string, field: string, zone: string): number {
  const m = START.exec(text.trim());
  if (!m) throw new ValidationError(field, `start '${text}' is not an ISO 8601 date-time (e.g. 2024-01-01T00:00:00Z)`);
  const num = (i: number): number => Number(m[i] ?? '0');
  const wall: WallTime = {
    year: num(1),
    month: num(2),
    day: num(3),
    hour: num(4),
    minute: num(5),
    second: num(6),
    millisecond: Math.round(Number(`0.${m[7] ?? '0'}`) * 1000),
  };
  const back = utcAsWall(wallAsUtc(wall));
  if (wall.month < 1 || wall.month > 12 || back.day !== wall.day || wall.hour > 23 || wall.minute > 59 || wall.second > 59) {
    throw new ValidationError(field, `start '${text}' is not a valid date-time`);
  }
  const offset = m[8];
  if (offset === undefined) return fromWall(wall, zone);
  if (offset === 'Z') return wallAsUtc(wall);
  const om = /^([+-])(\d{2}):?(\d{2})?$/.exec(offset);
  const sign = om?.[1] === '-' ? -1 : 1;
  const minutes = Number(om?.[2] ?? '0') * 60 + Number(om?.[3] ?? '0');
  return wallAsUtc(wall) - sign * minutes * 60_000;
}

/** Occurrence k (0-based) of the interval, ignoring the repetition limit. */
export function occurrence(ri: RepeatingInterval, k: number): number {
  const fixed = fixedMs(ri.period);
  if (fixed !== undefined) return ri.start + k * fixed;
  const w = toWall(ri.start, ri.zone);
  const targetMonth = w.month - 1 + k * (ri.period.years * 12 + ri.period.months);
  const year = w.year + Math.floor(targetMonth / 12);
  const month = ((targetMonth % 12) + 12) % 12;
  // Clamp the day to the target month's length (Jan 31 + 1 month = Feb 28/29).
  const monthLength = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const base = Date.UTC(year, month, Math.min(w.day, monthLength), w.hour, w.minute, w.second, w.millisecond);
  const shifted = base + k * (ri.period.weeks * 7 + ri.period.days) * 86_400_000;
  return fromWall(utcAsWall(shifted), ri.zone) + k * ri.period.clockMs;
}

/** The first occurrence at or after `t`, or undefined when the repetitions are used up. */
export function firstAtOrAfter(ri: RepeatingInterval, t: number): number | undefined {
  let k: number;
  const fixed = fixedMs(ri.period);
  if (t <= ri.start) k = 0;
  else if (fixed !== undefined) k = Math.ceil((t - ri.start) / fixed);
  else {
    k = Math.max(0, Math.floor((t - ri.start) / approximateMs(ri.period)) - 2);
    while (occurrence(ri, k) < t) k++;
    while (k > 0 && occurrence(ri, k - 1) >= t) k--;
  }
  if (ri.repetitions !== undefined && k >= ri.repetitions) return undefined;
  return occurrence(ri, k);
}
