// A v2 controller is plain data: it maps limits to file writes (containerd's cgroup2 package shape).
import type { CgroupFileWrite } from '../cgroup-files.js';
import type { ContainerLimits } from '../isolator.js';

export type ControllerName = 'cpu' | 'memory' | 'pids';

export interface ControllerWrite extends CgroupFileWrite {
  /** Written only when the kernel offers the file (e.g. memory.swap.max needs swap accounting). */
  optional?: boolean;
}

export interface Controller {
  readonly name: ControllerName;
  /** Pure: the writes that put `limits` in force. Throws RangeError on a limit it cannot express. */
  writes(limits: ContainerLimits): ControllerWrite[];
}

/** CFS period in microseconds; cpu.max quotas are relative to it. */
export const CPU_PERIOD_USEC = 100_000;
