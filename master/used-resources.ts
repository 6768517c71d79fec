// What an agent's live tasks use, in the scalars /master/state and the metrics report.
import { roundScalar, type Resources } from '../common/index.js';

/** `pids` is a limit, never used up; ports are shown by the agent itself. */
export interface ScalarResources {
  cpus: number;
  mem: number;
  disk: number;
}

export function sumResources(list: Iterable<Resources>): ScalarResources {
  const total: ScalarResources = { cpus: 0, mem: 0, disk: 0 };
  for (const r of list) {
    total.cpus = roundScalar(total.cpus + r.cpus);
    total.mem = roundScalar(total.mem + r.mem);
    total.disk = roundScalar(total.disk + (r.disk ?? 0));
  }
  return total;
}
