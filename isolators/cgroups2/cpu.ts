// cpu controller: a hard quota (cpu.max) and a proportional weight (cpu.weight), both from `cpus`.
import type { ContainerLimits } from '../isolator.js';
import { CPU_PERIOD_USEC, type Controller, type ControllerWrite } from './controller.js';

/** The kernel refuses quotas below 1 ms per period. */
const MIN_QUOTA_USEC = 1000;

export function cpuWrites(limits: ContainerLimits): ControllerWrite[] {
  const { cpus } = limits;
  if (!Number.isFinite(cpus) || cpus <= 0) throw new RangeError(`cpus must be a positive number, got ${cpus}`);
  const quota = Math.max(MIN_QUOTA_USEC, Math.round(cpus * CPU_PERIOD_USEC));
  // Weight 100 is the default for one core; the kernel accepts 1..10000.
  const weight = Math.min(10_000, Math.max(1, Math.round(cpus * 100)));
  return [
    { file: 'cpu.max', value: `${quota} ${CPU_PERIOD_USEC}` },
    { file: 'cpu.weight', value: String(weight) },
  ];
}

export const cpuController: Controller = { name: 'cpu', writes: cpuWrites };
