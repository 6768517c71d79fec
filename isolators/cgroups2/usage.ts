// Turns the text of a v2 cgroup's stat files into Mesos ResourceStatistics. Pure, so it is tested
// against fixed text; a file that is missing (undefined) leaves its fields out.
import type { ResourceStatistics } from '../../common/index.js';
import { parseFlatKeyed } from '../cgroup-files.js';

/** The files usage() reads, relative to the container's cgroup. */
export const USAGE_FILES = [
  'cpu.max',
  'cpu.stat',
  'memory.max',
  'memory.current',
  'memory.peak',
  'memory.stat',
  'memory.events',
  'pids.current',
] as const;

export type UsageFile = (typeof USAGE_FILES)[number];
export type UsageFiles = Partial<Record<UsageFile, string>>;

const USEC_PER_SEC = 1_000_000;

/** `"<quota> <period>"` → cores; `"max ..."` (no limit) → undefined. */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max' || period === undefined) return undefined;
  const q = Number(quota);
  const p = Number(period);
  return Number.isFinite(q) && Number.isFinite(p) && p > 0 ? q / p : undefined;
}

/** A single-value file: a number, or undefined for `max` or garbage. */
export function parseSingleValue(text: string): number | undefined {
  const trimmed = text.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : undefined;
}

export function parseUsage(files: UsageFiles, timestamp: number): ResourceStatistics {
  const stats: ResourceStatistics = { timestamp };
  const set = <K extends keyof ResourceStatistics>(key: K, value: ResourceStatistics[K] | undefined): void => {
    if (value !== undefined) stats[key] = value;
  };

  if (files['cpu.max'] !== undefined) set('cpus_limit', parseCpuMax(files['cpu.max']));
  if (files['cpu.stat'] !== undefined) {
    const cpu = parseFlatKeyed(files['cpu.stat']);
    const secs = (key: string): number | undefined => {
      const usec = cpu.get(key);
      return usec === undefined ? undefined : usec / USEC_PER_SEC;
    };
    set('cpus_user_time_secs', secs('user_usec'));
    set('cpus_system_time_secs', secs('system_usec'));
    // nr_* and throttled_usec exist only when the cpu controller is enabled for the cgroup.
    set('cpus_nr_periods', cpu.get('nr_periods'));
    set('cpus_nr_throttled', cpu.get('nr_throttled'));
    set('cpus_throttled_time_secs', secs('throttled_usec'));
  }
  if (files['memory.max'] !== undefined) set('mem_limit_bytes', parseSingleValue(files['memory.max']));
  if (files['memory.current'] !== undefined) set('mem_total_bytes', parseSingleValue(files['memory.current']));
  if (files['memory.peak'] !== undefined) set('mem_max_bytes', parseSingleValue(files['memory.peak']));
  if (files['memory.stat'] !== undefined) set('mem_rss_bytes', parseFlatKeyed(files['memory.stat']).get('anon'));
  if (files['memory.events'] !== undefined) {
    set('mem_oom_kills', parseFlatKeyed(files['memory.events']).get('oom_kill'));
  }
  if (files['pids.current'] !== undefined) set('processes', parseSingleValue(files['pids.current']));
  return stats;
}
