// First-fit placement: pure functions over plain data, so the rules are testable without a master.
import type { Resources } from '../../common/index.js';

/** What placement needs to know about a waiting task. */
export interface PlacementRequest {
  task_id: string;
  resources: Resources;
  /** Which executor the task needs on the agent ('docker' for a DOCKER container, else 'command'). */
  executor: 'command' | 'docker';
}

/** An agent that may take tasks: its total resources and what its non-terminal tasks use. */
export interface PlacementAgent {
  agent_id: string;
  resources: Resources;
  used: ScalarResources;
  executors: readonly string[];
}

export interface Placement {
  task_id: string;
  agent_id: string;
}

/** The resources placement accounts for. `pids` is a limit only and never offered. */
export interface ScalarResources {
  cpus: number;
  mem: number;
  disk: number;
}

// Sums of fractional cpus (0.1 + 0.2) must still fit into 0.3.
const EPSILON = 1e-9;

export const NO_RESOURCES: ScalarResources = Object.freeze({ cpus: 0, mem: 0, disk: 0 });

export function scalar(resources: Resources): ScalarResources {
  return { cpus: resources.cpus, mem: resources.mem, disk: resources.disk ?? 0 };
}

export function addResources(a: ScalarResources, b: ScalarResources): ScalarResources {
  return { cpus: a.cpus + b.cpus, mem: a.mem + b.mem, disk: a.disk + b.disk };
}

export function sumResources(list: Iterable<Resources>): ScalarResources {
  let total: ScalarResources = NO_RESOURCES;
  for (const r of list) total = addResources(total, scalar(r));
  return total;
}

/**
 * What is left on an agent. An agent that reports no `disk` does not account for disk, so its free
 * disk is unbounded (Infinity).
 */
export function freeResources(total: Resources, used: ScalarResources): ScalarResources {
  return {
    cpus: total.cpus - used.cpus,
    mem: total.mem - used.mem,
    disk: total.disk === undefined ? Number.POSITIVE_INFINITY : total.disk - used.disk,
  };
}

export function fits(need: Resources, free: ScalarResources): boolean {
  const n = scalar(need);
  return n.cpus <= free.cpus + EPSILON && n.mem <= free.mem + EPSILON && n.disk <= free.disk + EPSILON;
}

export function canRun(request: PlacementRequest, agent: PlacementAgent): boolean {
  // Every agent runs command tasks; only some have a Docker engine.
  return request.executor !== 'docker' || agent.executors.includes('docker');
}

/**
 * Places `requests` in their order (FIFO) onto the first agent, in the given order, that can run the
 * task and has room for it. A task that fits nowhere is left out of the result (it stays pending) and
 * does not block the ones behind it.
 */
export function placeTasks(
  requests: readonly PlacementRequest[],
  agents: readonly PlacementAgent[],
): Placement[] {
  const free = agents.map((agent) => freeResources(agent.resources, agent.used));
  const placements: Placement[] = [];
  for (const request of requests) {
    const index = agents.findIndex((agent, i) => canRun(request, agent) && fits(request.resources, free[i]!));
    if (index < 0) continue;
    const agent = agents[index]!;
    const left = free[index]!;
    const need = scalar(request.resources);
    free[index] = { cpus: left.cpus - need.cpus, mem: left.mem - need.mem, disk: left.disk - need.disk };
    placements.push({ task_id: request.task_id, agent_id: agent.agent_id });
  }
  return placements;
}
