import assert from 'node:assert/strict';
import {
  formatAge,
  formatBytes,
  formatCpus,
  formatDurationMs,
  formatMegabytes,
  formatPercent,
  formatTable,
  formatUsedTotal,
} from './format.js';

describe('cli format', () => {
  it('aligns table columns and leaves no trailing spaces', () => {
    const text = formatTable(['ID', 'NAME', 'STATE'], [
      ['a1', 'sleep', 'TASK_RUNNING'],
      ['b22222', 'x', 'TASK_STAGING'],
    ]);
    assert.equal(
      text,
      'ID       NAME    STATE\n' + 'a1       sleep   TASK_RUNNING\n' + 'b22222   x       TASK_STAGING\n',
    );
    assert.equal(formatTable(['A', 'B'], []), 'A   B\n');
  });
  it('formats sizes in binary units', () => {
    assert.equal(formatBytes(0), '0');
    assert.equal(formatBytes(512), '512B');
    assert.equal(formatBytes(1536), '1.5K');
    assert.equal(formatBytes(64 * 1024 * 1024), '64M');
    assert.equal(formatBytes(10.4 * 1024 ** 3), '10G');
    assert.equal(formatBytes(undefined), '-');
    assert.equal(formatMegabytes(8192), '8G');
    assert.equal(formatMegabytes(64), '64M');
  });
  it('formats cpus, percentages and used/total', () => {
    assert.equal(formatCpus(0.1), '0.1');
    assert.equal(formatCpus(0.125), '0.13');
    assert.equal(formatCpus(undefined), '-');
    assert.equal(formatPercent(0.4567), '45.7%');
    assert.equal(formatPercent(undefined), '-');
    assert.equal(formatUsedTotal(undefined, 4, formatCpus), '0/4');
    assert.equal(formatUsedTotal(1.5, 4, formatCpus), '1.5/4');
  });
  it('formats ages and durations', () => {
    assert.equal(formatAge(42.9), '42s');
    assert.equal(formatAge(300), '5m');
    assert.equal(formatAge(3 * 3600 + 5), '3h');
    assert.equal(formatAge(2 * 86400), '2d');
    assert.equal(formatAge(-1), '-');
    assert.equal(formatDurationMs(500), '500ms');
    assert.equal(formatDurationMs(2000), '2s');
    assert.equal(formatDurationMs(90_000), '1.5m');
  });
});
