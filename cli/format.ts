// Terminal formatting: aligned tables, sizes, ages, percentages. Pure functions, unit-tested.

/** Left-aligned columns separated by three spaces; the last column is not padded. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    headers
      .map((_, column) => {
        const cell = cells[column] ?? '';
        return column === headers.length - 1 ? cell : cell.padEnd(widths[column] ?? 0);
      })
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

const SIZE_UNITS = ['B', 'K', 'M', 'G', 'T', 'P'] as const;

/** 0 → `0`, 1536 → `1.5K`, 67108864 → `64M`. Binary units, at most one decimal, none from 10 up. */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '-';
  if (bytes === 0) return '0';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${formatShortNumber(value)}${SIZE_UNITS[unit]}`;
}

/** Megabytes (the unit of `mem` in resources) → `64M`, `8G`. */
export function formatMegabytes(mb: number | undefined): string {
  return mb === undefined ? '-' : formatBytes(mb * 1024 * 1024);
}

/** 0.1 → `0.1`, 2 → `2`, 0.125 → `0.13`. */
export function formatCpus(cpus: number | undefined): string {
  if (cpus === undefined || !Number.isFinite(cpus)) return '-';
  return String(Math.round(cpus * 100) / 100);
}

/** Seconds → the largest whole unit: `42s`, `5m`, `3h`, `2d`. */
export function formatAge(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  if (seconds < 60) return `${Math.floor(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

/** Milliseconds → `500ms`, `30s`, `2m`, `1.5h`: how a duration flag is echoed back. */
export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${formatShortNumber(ms / 1000)}s`;
  if (ms < 3_600_000) return `${formatShortNumber(ms / 60_000)}m`;
  return `${formatShortNumber(ms / 3_600_000)}h`;
}

/** 0.4567 → `45.7%`; undefined → `-`. */
export function formatPercent(fraction: number | undefined): string {
  if (fraction === undefined || !Number.isFinite(fraction)) return '-';
  return `${(fraction * 100).toFixed(1)}%`;
}

/** `used/total`, each via `format`. */
export function formatUsedTotal(used: number | undefined, total: number | undefined, format: (n: number | undefined) => string): string {
  return `${format(used ?? 0)}/${format(total)}`;
}

/** Cuts a cell to `max` characters with an ellipsis. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

function formatShortNumber(value: number): string {
  const rounded = value >= 10 ? Math.round(value) : Math.round(value * 10) / 10;
  return String(rounded);
}
