import assert from 'node:assert/strict';
import { ValidationError } from '../../common/index.js';
import { cronNextAfter, parseCron } from './cron.js';

const next = (expr: string, after: string, zone = 'UTC'): string | undefined => {
  const t = cronNextAfter(parseCron(expr, 'schedule', zone), Date.parse(after));
  return t === undefined ? undefined : new Date(t).toISOString();
};

describe('cron expressions', () => {
  it('finds the next minute, hour, day', () => {
    assert.equal(next('* * * * *', '2024-01-01T00:00:30Z'), '2024-01-01T00:01:00.000Z');
    assert.equal(next('*/15 * * * *', '2024-01-01T00:16:00Z'), '2024-01-01T00:30:00.000Z');
    assert.equal(next('0 9 * * 1-5', '2024-01-05T10:00:00Z'), '2024-01-08T09:00:00.000Z'); // Fri → Mon
    assert.equal(next('0 0 1 JAN *', '2024-06-01T00:00:00Z'), '2025-01-01T00:00:00.000Z');
    assert.equal(next('@hourly', '2024-01-01T00:00:00Z'), '2024-01-01T01:00:00.000Z');
  });

  it('is strictly after the given time', () => {
    assert.equal(next('0 * * * *', '2024-01-01T01:00:00Z'), '2024-01-01T02:00:00.000Z');
  });

  it('ORs day of month and day of week when both are restricted', () => {
    // 13th or a Friday: after Mon 2024-09-09, Fri 13th… the first is Fri 2024-09-13, then the next Friday 20th.
    assert.equal(next('0 0 13 * 5', '2024-09-09T00:00:00Z'), '2024-09-13T00:00:00.000Z');
    assert.equal(next('0 0 13 * 5', '2024-09-13T00:00:00Z'), '2024-09-20T00:00:00.000Z');
    assert.equal(next('0 0 * * 7', '2024-09-09T00:00:00Z'), '2024-09-15T00:00:00.000Z'); // 7 = Sunday
  });

  it('evaluates in the time zone, skipping a wall time that does not exist', () => {
    assert.equal(next('0 9 * * *', '2024-07-01T00:00:00Z', 'Europe/Berlin'), '2024-07-01T07:00:00.000Z');
    // 02:30 does not exist in Berlin on 2024-03-31.
    assert.equal(next('30 2 * * *', '2024-03-30T12:00:00Z', 'Europe/Berlin'), '2024-04-01T00:30:00.000Z');
  });

  it('returns undefined for a date that never comes', () => {
    assert.equal(next('0 0 30 2 *', '2024-01-01T00:00:00Z'), undefined);
  });

  it('rejects malformed expressions, naming the field', () => {
    for (const bad of ['* * * *', '60 * * * *', '* 24 * * *', '*/0 * * * *', '5-1 * * * *', 'a * * * *', '* * * FOO *']) {
      assert.throws(() => parseCron(bad, 'schedule'), (e: unknown) => e instanceof ValidationError && e.field === 'schedule', bad);
    }
  });
});
