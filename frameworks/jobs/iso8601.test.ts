import assert from 'node:assert/strict';
import { ValidationError } from '../../common/index.js';
import { firstAtOrAfter, occurrence, parseDuration, parseRepeatingInterval } from './iso8601.js';

const iso = (t: number | undefined): string | undefined => (t === undefined ? undefined : new Date(t).toISOString());

describe('ISO 8601 repeating intervals', () => {
  it('parses durations with calendar and clock parts', () => {
    assert.deepEqual(parseDuration('P1Y2M3W4DT5H6M7.5S', 'f'), { years: 1, months: 2, weeks: 3, days: 4, clockMs: (5 * 3600 + 6 * 60 + 7.5) * 1000 });
    assert.equal(parseDuration('PT10S', 'f').clockMs, 10_000);
  });

  it('rejects bad durations, naming the field', () => {
    for (const bad of ['P', 'PT', '10S', 'PT0S', 'P1H', 'PT-5S']) {
      assert.throws(() => parseDuration(bad, 'epsilon'), (e: unknown) => e instanceof ValidationError && e.field === 'epsilon', bad);
    }
  });

  it('computes fixed-period occurrences from the start', () => {
    const ri = parseRepeatingInterval('R/2024-01-01T00:00:00Z/PT10S', 'schedule');
    const start = Date.parse('2024-01-01T00:00:00Z');
    assert.equal(firstAtOrAfter(ri, start - 5000), start);
    assert.equal(firstAtOrAfter(ri, start + 1), start + 10_000);
    assert.equal(firstAtOrAfter(ri, start + 10_000), start + 10_000);
  });

  it('stops after n repetitions', () => {
    const ri = parseRepeatingInterval('R3/2024-01-01T00:00:00Z/PT1H', 'schedule');
    assert.equal(iso(firstAtOrAfter(ri, Date.parse('2024-01-01T01:30:00Z'))), '2024-01-01T02:00:00.000Z');
    assert.equal(firstAtOrAfter(ri, Date.parse('2024-01-01T02:00:01Z')), undefined);
    assert.equal(firstAtOrAfter(parseRepeatingInterval('R0/2024-01-01T00:00:00Z/PT1H', 's'), 0), undefined);
  });

  it('honours offsets in the start and the schedule time zone for a start without one', () => {
    assert.equal(parseRepeatingInterval('R/2024-01-01T10:00:00+02:00/PT1H', 's').start, Date.parse('2024-01-01T08:00:00Z'));
    assert.equal(parseRepeatingInterval('R/2024-07-01T10:00:00/PT1H', 's', 'Europe/Berlin').start, Date.parse('2024-07-01T08:00:00Z'));
    assert.equal(parseRepeatingInterval('R/2024-01-01T10:00:00/PT1H', 's', 'America/New_York').start, Date.parse('2024-01-01T15:00:00Z'));
  });

  it('keeps a daily job at its wall-clock hour across a DST change', () => {
    const ri = parseRepeatingInterval('R/2024-03-30T09:00:00/P1D', 's', 'Europe/Berlin');
    assert.equal(iso(occurrence(ri, 0)), '2024-03-30T08:00:00.000Z'); // CET
    assert.equal(iso(occurrence(ri, 1)), '2024-03-31T07:00:00.000Z'); // CEST
    assert.equal(iso(firstAtOrAfter(ri, Date.parse('2024-04-10T07:30:00Z'))), '2024-04-11T07:00:00.000Z');
  });

  it('clamps monthly occurrences to the month length', () => {
    const ri = parseRepeatingInterval('R/2024-01-31T00:00:00Z/P1M', 's');
    assert.equal(iso(occurrence(ri, 1)), '2024-02-29T00:00:00.000Z');
    assert.equal(iso(occurrence(ri, 2)), '2024-03-31T00:00:00.000Z');
  });

  it('rejects malformed intervals and unknown zones, naming the field', () => {
    for (const bad of ['R/2024-01-01T00:00:00Z', 'X/2024-01-01T00:00:00Z/PT1H', 'R/yesterday/PT1H', 'R/2024-02-30T00:00:00Z/PT1H', 'R/2024-01-01T00:00:00Z/P']) {
      assert.throws(() => parseRepeatingInterval(bad, 'schedule'), (e: unknown) => e instanceof ValidationError && e.field === 'schedule', bad);
    }
    assert.throws(() => parseRepeatingInterval('R/2024-01-01T00:00:00Z/PT1H', 'schedule', 'Mars/Olympus'),
      (e: unknown) => e instanceof ValidationError && e.field === 'scheduleTimeZone');
  });
});
