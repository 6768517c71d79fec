// cgroup v1 `cpu` controller: CFS bandwidth (a hard cap of `cpus` cores) and a proportional weight.
import type { ResourceStatistics } from '../../common/index.js';
import { parseFlatKeyed, type CgroupFileWrite } from '../cgroup-files.js';
import type { ContainerLimits } from '../isolator.js';
import { parseLimit } from './controller.js';

export const CFS_PERIOD_US = 100_000;
/** The kernel refuses quotas below 1 ms. */
const MIN_CFS_QUOTA_US = 1_000;
/** cpu.shares for one core (the kernel's default weight). */
const SHARES_PER_CPU = 1024;
/** The kernel's minimum cpu.shares. */
const MIN_SHARES = 2;

export function cpuWrites(limits: ContainerLimits): CgroupFileWrite[] {
  const quota = Math.max(MIN_CFS_QUOTA_US, Math.round(limits.cpus * CFS_PERIOD_US));
  const shares = Math.max(MIN_SHARES, Math.round(limits.cpus * SHARES_PER_CPU));
  return [
    // Period first: the quota is validated against it.
    { file: 'cpu.cfs_period_us', value: String(CFS_PERIOD_US) },
    { file: 'cpu.cfs_quota_us', value: String(quota) },
    { file: 'cpu.shares', value: String(shares) },
  ];
}

/** From the texts of cpu.cfs_quota_us, cpu.cfs_period_us and cpu.stat (throttled_time is in ns). */
export function parseCpuUsage(files: {
  quota?: string;
  period?: string;
  stat?: string;
}): Partial<ResourceStatistics> {
  const usage: Partial<ResourceStatistics> = {};
  const quota = parseLimit(files.quota);
  const period = parseLimit(files.period);
  if (quota !== undefined && period !== undefined && period > 0) usage.cpus_limit = quota / period;
  if (files.stat !== undefined) {
    const stat = parseFlatKeyed(files.stat);
    const periods = stat.get('nr_periods');
    const throttled = stat.get('nr_throttled');
    const throttledNs = stat.get('throttled_time');
    if (periods !== undefined) usage.cpus_nr_periods = periods;
    if (throttled !== undefined) usage.cpus_nr_throttled = throttled;
    if (throttledNs !== undefined) usage.cpus_throttled_time_secs = throttledNs / 1e9;
  }
  return usage;
}
