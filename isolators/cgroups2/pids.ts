// pids controller: caps processes + threads; no limit writes 'max' so update() can lift one.
import type { ContainerLimits } from '../isolator.js';
import type { Controller, ControllerWrite } from './controller.js';

export function pidsWrites(limits: ContainerLimits): ControllerWrite[] {
  const { pids } = limits;
  if (pids === undefined) return [{ file: 'pids.max', value: 'max' }];
  if (!Number.isInteger(pids) || pids <= 0) throw new RangeError(`pids must be a positive integer, got ${pids}`);
  return [{ file: 'pids.max', value: String(pids) }];
}

export const pidsController: Controller = { name: 'pids', writes: pidsWrites };
