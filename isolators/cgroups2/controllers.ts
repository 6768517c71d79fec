// Every controller the v2 isolator enables and writes, in one list so prepare/update fan out over it.
import type { Controller, ControllerName } from './controller.js';
import { cpuController } from './cpu.js';
import { memoryController } from './memory.js';
import { pidsController } from './pids.js';

export const CONTROLLERS: readonly Controller[] = [cpuController, memoryController, pidsController];

export const CONTROLLER_NAMES: readonly ControllerName[] = CONTROLLERS.map((c) => c.name);
