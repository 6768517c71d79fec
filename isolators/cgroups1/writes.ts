// Dispatches to each controller's mapping of ContainerLimits to file writes.
import { assertNever } from '../../common/index.js';
import type { CgroupFileWrite } from '../cgroup-files.js';
import type { ContainerLimits } from '../isolator.js';
import type { V1Controller } from './controller.js';
import { cpuWrites } from './cpu.js';
import { cpuacctWrites } from './cpuacct.js';
import { freezerWrites } from './freezer.js';
import { memoryWrites, type MemoryWriteContext } from './memory.js';
import { pidsWrites } from './pids.js';

export function controllerWrites(
  controller: V1Controller,
  limits: ContainerLimits,
  memory: MemoryWriteContext,
): CgroupFileWrite[] {
  switch (controller) {
    case 'cpu':
      return cpuWrites(limits);
    case 'cpuacct':
      return cpuacctWrites(limits);
    case 'memory':
      return memoryWrites(limits, memory);
    case 'pids':
      return pidsWrites(limits);
    case 'freezer':
      return freezerWrites(limits);
    default:
      return assertNever(controller, 'cgroup v1 controller');
  }
}
