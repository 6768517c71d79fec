// Wall-clock time in an IANA time zone, through Intl (no library): instant ↔ wall components.
import { ValidationError } from '../../common/index.js';

/** Calendar components of a wall-clock time; month 1-12, weekday 0 (Sunday) - 6. */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** Throws a ValidationError naming `field` unless `zone` is a time zone this runtime knows. */
export function checkTimeZone(zone: string, field: string): void {
  try {
    formatter(zone);
  } catch {
    throw new ValidationError(field, `'${zone}' is not a known time zone (use an IANA name such as 'Europe/Berlin' or 'UTC')`);
  }
}

export function toWall(instant: number, zone: string): WallTime {
  const parts = formatter(zone).formatToParts(new Date(instant));
  const get = (type: Intl.DateTimeFormatPartTypes): number => Number(parts.find((p) => p.type === type)?.value ?? NaN);
  const ms = ((instant % 1000) + 1000) % 1000;
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour'), minute: get('minute'), second: get('second'), millisecond: ms };
}

/** The wall time's components read as if they were UTC: a number that calendar arithmetic can use. */
export function wallAsUtc(w: WallTime): number {
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second, w.millisecond);
}

export function utcAsWall(t: number): WallTime {
  const d = new Date(t);
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
    second: d.getUTCSeconds(),
    millisecond: d.getUTCMilliseconds(),
  };
}

/** Milliseconds the zone is ahead of UTC at `instant`. */
export function zoneOffsetMs(instant: number, zone: string): number {
  return wallAsUtc(toWall(instant, zone)) - instant;
}

/**
 * The instant a wall time in `zone` denotes. An ambiguous time (the repeated hour when clocks go back)
 * is its earlier instant; a time that does not exist (clocks go forward) is shifted by the gap.
 */
export function fromWall(w: WallTime, zone: string): number {
  const local = wallAsUtc(w);
  const first = local - zoneOffsetMs(local, zone);
  const second = local - zoneOffsetMs(first, zone);
  if (first === second) {
    // The earlier of two candidates, if the hour repeats.
    const earlier = local - zoneOffsetMs(first - 3_600_000, zone);
    return earlier < first && wallAsUtc(toWall(earlier, zone)) === local ? earlier : first;
  }
  return Math.max(first, second);
}

/** Whether `w` exists in `zone` (false inside the gap when clocks go forward). */
export function wallExists(w: WallTime, zone: string): boolean {
  return wallAsUtc(toWall(fromWall(w, zone), zone)) === wallAsUtc(w);
}
