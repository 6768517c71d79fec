// memory controller: a hard limit, no swap, and the whole container dies together on OOM so a
// half-killed task never lingers.
import type { ContainerLimits } from '../isolator.js';
import type { Controller, ControllerWrite } from './controller.js';

export function memoryWrites(limits: ContainerLimits): ControllerWrite[] {
  const { memBytes } = limits;
  if (!Number.isFinite(memBytes) || memBytes <= 0) {
    throw new RangeError(`memBytes must be a positive number, got ${memBytes}`);
  }
  return [
    { file: 'memory.max', value: String(Math.floor(memBytes)) },
    // Absent when the kernel was booted without swap accounting: then there is no swap to forbid.
    { file: 'memory.swap.max', value: '0', optional: true },
    { file: 'memory.oom.group', value: '1', optional: true },
  ];
}

export const memoryController: Controller = { name: 'memory', writes: memoryWrites };
