// cgroup v1 `cpuacct` controller: accounting only (not co-mounted with `cpu` on these hosts, so it is
// a hierarchy of its own that every container joins too).
import type { ResourceStatistics } from '../../common/index.js';
import { parseFlatKeyed, type CgroupFileWrite } from '../cgroup-files.js';
import type { ContainerLimits } from '../isolator.js';
import { USER_HZ } from './controller.js';

export function cpuacctWrites(_limits: ContainerLimits): CgroupFileWrite[] {
  return [];
}

/** From cpuacct.stat: `user` and `system` in USER_HZ ticks. */
export function parseCpuacctUsage(stat: string | undefined): Partial<ResourceStatistics> {
  if (stat === undefined) return {};
  const values = parseFlatKeyed(stat);
  const usage: Partial<ResourceStatistics> = {};
  const user = values.get('user');
  const system = values.get('system');
  if (user !== undefined) usage.cpus_user_time_secs = user / USER_HZ;
  if (system !== undefined) usage.cpus_system_time_secs = system / USER_HZ;
  return usage;
}
