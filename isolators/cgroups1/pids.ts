// cgroup v1 `pids` controller: caps processes *and threads* (a fork bomb stops at pids.max).
import type { ResourceStatistics } from '../../common/index.js';
import type { CgroupFileWrite } from '../cgroup-files.js';
import type { ContainerLimits } from '../isolator.js';
import { parseLimit } from './controller.js';

export function pidsWrites(limits: ContainerLimits): CgroupFileWrite[] {
  return [{ file: 'pids.max', value: limits.pids === undefined ? 'max' : String(Math.round(limits.pids)) }];
}

export function parsePidsUsage(current: string | undefined): Partial<ResourceStatistics> {
  const processes = parseLimit(current);
  return processes === undefined ? {} : { processes };
}
