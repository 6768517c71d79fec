// Reads a container's ResourceStatistics from its v1 cgroup dirs: each file once (see cgroupfs-now.ts).
import type { ResourceStatistics } from '../../common/index.js';
import { readCgroupFileNow } from './cgroupfs-now.js';
import type { V1Controller } from './controller.js';
import { parseCpuUsage } from './cpu.js';
import { parseCpuacctUsage } from './cpuacct.js';
import { parseMemoryUsage } from './memory.js';
import { parsePidsUsage } from './pids.js';

/** A file that cannot be read (controller absent, cgroup gone) is left out of the result. */
async function readOptional(dir: string | undefined, file: string): Promise<string | undefined> {
  if (dir === undefined) return undefined;
  try {
    return await readCgroupFileNow(dir, file);
  } catch {
    return undefined;
  }
}

export async function readCgroups1Usage(
  dirs: Partial<Record<V1Controller, string>>,
  now: () => number = Date.now,
): Promise<ResourceStatistics> {
  const [quota, period, cpuStat, cpuacctStat, limit, memStat, memUsage, memMax, oomControl, pidsCurrent] =
    await Promise.all([
      readOptional(dirs.cpu, 'cpu.cfs_quota_us'),
      readOptional(dirs.cpu, 'cpu.cfs_period_us'),
      readOptional(dirs.cpu, 'cpu.stat'),
      readOptional(dirs.cpuacct, 'cpuacct.stat'),
      readOptional(dirs.memory, 'memory.limit_in_bytes'),
      readOptional(dirs.memory, 'memory.stat'),
      readOptional(dirs.memory, 'memory.usage_in_bytes'),
      readOptional(dirs.memory, 'memory.max_usage_in_bytes'),
      readOptional(dirs.memory, 'memory.oom_control'),
      readOptional(dirs.pids, 'pids.current'),
    ]);
  return {
    timestamp: now() / 1000,
    ...parseCpuUsage({ quota, period, stat: cpuStat }),
    ...parseCpuacctUsage(cpuacctStat),
    ...parseMemoryUsage({ limit, stat: memStat, usage: memUsage, maxUsage: memMax, oomControl }),
    ...parsePidsUsage(pidsCurrent),
  };
}
