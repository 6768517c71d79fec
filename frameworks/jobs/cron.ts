// Cron expressions, 5 fields (minute hour day-of-month month day-of-week), evaluated in a time zone.
// As in Vixie cron: when both day fields are restricted, a day matches if EITHER does.
import { ValidationError } from '../../common/index.js';
import { checkTimeZone, fromWall, toWall, utcAsWall, wallAsUtc, wallExists } from './time-zone.js';

export interface CronExpression {
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  daysOfMonth: ReadonlySet<number>;
  months: ReadonlySet<number>;
  /** 0 = Sunday (7 is accepted and folded to 0). */
  daysOfWeek: ReadonlySet<number>;
  domRestricted: boolean;
  dowRestricted: boolean;
  zone: string;
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

interface FieldSpec {
  label: string;
  min: number;
  max: number;
  names?: readonly string[];
  /** Value of names[0]. */
  nameBase?: number;
}

const FIELDS: readonly FieldSpec[] = [
  { label: 'minute', min: 0, max: 59 },
  { label: 'hour', min: 0, max: 23 },
  { label: 'day of month', min: 1, max: 31 },
  { label: 'month', min: 1, max: 12, names: MONTH_NAMES, nameBase: 1 },
  { label: 'day of week', min: 0, max: 7, names: DAY_NAMES, nameBase: 0 },
];

/** Whether a schedule string looks like a cron expression rather than an ISO 8601 interval. */
export function looksLikeCron(text: string): boolean {
  const t = text.trim();
  return t.startsWith('@') || t.split(/\s+/).length === 5;
}

export function parseCron(text: string, field: string, zone = 'UTC', zoneField = 'scheduleTimeZone'): CronExpression {
  checkTimeZone(zone, zoneField);
  const expanded = MACROS[text.trim().toLowerCase()] ?? text.trim();
  const parts = expanded.split(/\s+/);
  if (parts.length !== 5) throw new ValidationError(field, `'${text}' must have 5 fields: minute hour day-of-month month day-of-week`);
  const sets = parts.map((part, i) => parseField(part, FIELDS[i] as FieldSpec, field, text));
  const dow = new Set([...(sets[4] ?? [])].map((d) => (d === 7 ? 0 : d)));
  return {
    minutes: sets[0] ?? new Set(),
    hours: sets[1] ?? new Set(),
    daysOfMonth: sets[2] ?? new Set(),
    months: sets[3] ?? new Set(),
    daysOfWeek: dow,
    domRestricted: !parts[2]?.startsWith('*'),
    dowRestricted: !parts[4]?.startsWith('*'),
    zone,
  };
}

function parseField(part: string, spec: FieldSpec, field: string, whole: string): Set<number> {
  const out = new Set<number>();
  const bad = (why: string): ValidationError => new ValidationError(field, `'${whole}': ${spec.label} '${part}' ${why}`);
  const value = (s: string): number => {
    const upper = s.toUpperCase();
    const named = spec.names?.indexOf(upper) ?? -1;
    if (named >= 0) return named + (spec.nameBase ?? 0);
    if (!/^\d+$/.test(s)) throw bad(`is not a number${spec.names ? ' or name' : ''}`);
    const n = Number(s);
    if (n < spec.min || n > spec.max) throw bad(`is out of range ${spec.min}-${spec.max}`);
    return n;
  };
  for (const item of part.split(',')) {
    const [range, stepText, extra] = item.split('/');
    if (range === undefined || range === '' || extra !== undefined) throw bad('is malformed');
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) throw bad('has a bad step');
      step = Number(stepText);
    }
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = spec.min;
      hi = spec.label === 'day of week' ? 6 : spec.max;
    } else if (range.includes('-')) {
      const [a, b, more] = range.split('-');
      if (a === undefined || b === undefined || more !== undefined) throw bad('is malformed');
      lo = value(a);
      hi = value(b);
      if (lo > hi) throw bad('is a backwards range');
    } else {
      lo = value(range);
      hi = stepText === undefined ? lo : spec.max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

const MINUTE = 60_000;
/** No expression needs more than this many candidate steps to find a match (or to prove there is none). */
const MAX_STEPS = 200_000;

/** The first time strictly after `t` that the expression matches, or undefined (e.g. `0 0 30 2 *`). */
export function cronNextAfter(cron: CronExpression, t: number): number | undefined {
  // Walk wall time (as a UTC number) minute by minute, skipping whole months/days/hours that cannot match.
  const w0 = toWall(t, cron.zone);
  let c = Math.floor(wallAsUtc({ ...w0, second: 0, millisecond: 0 }) / MINUTE) * MINUTE + MINUTE;
  for (let steps = 0; steps < MAX_STEPS; steps++) {
    const d = new Date(c);
    const month = d.getUTCMonth() + 1;
    if (!cron.months.has(month)) {
      c = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      continue;
    }
    if (!dayMatches(cron, d.getUTCDate(), d.getUTCDay())) {
      c = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
      continue;
    }
    if (!cron.hours.has(d.getUTCHours())) {
      c = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours() + 1);
      continue;
    }
    if (!cron.minutes.has(d.getUTCMinutes())) {
      c += MINUTE;
      continue;
    }
    const wall = utcAsWall(c);
    if (wallExists(wall, cron.zone)) {
      const instant = fromWall(wall, cron.zone);
      if (instant > t) return instant;
    }
    c += MINUTE;
  }
  return undefined;
}

function dayMatches(cron: CronExpression, dom: number, dow: number): boolean {
  const domOk = cron.daysOfMonth.has(dom);
  const dowOk = cron.daysOfWeek.has(dow);
  if (cron.domRestricted && cron.dowRestricted) return domOk || dowOk;
  if (cron.domRestricted) return domOk;
  if (cron.dowRestricted) return dowOk;
  return true;
}
