// Prometheus metrics of one agent, in a registry of its own (two agents in one process stay apart).
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { TASK_STATES, type TaskState } from '../../common/index.js';

export interface MetricsSources {
  taskStates: () => TaskState[];
  registered: () => boolean;
  startedAt: number;
}

export function createMetrics(sources: MetricsSources, options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  new Gauge({
    name: 'tessera_agent_tasks',
    help: 'Tasks known to this agent, by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = new Map<TaskState, number>(TASK_STATES.map((s) => [s, 0]));
      for (const state of sources.taskStates()) counts.set(state, (counts.get(state) ?? 0) + 1);
      for (const [state, count] of counts) this.set({ state }, count);
    },
  });
  new Gauge({
    name: 'tessera_agent_uptime_seconds',
    help: 'Seconds since this agent started',
    registers: [registry],
    collect() {
      this.set((Date.now() - sources.startedAt) / 1000);
    },
  });
  new Gauge({
    name: 'tessera_agent_registered',
    help: '1 while the agent is registered with a master, else 0',
    registers: [registry],
    collect() {
      this.set(sources.registered() ? 1 : 0);
    },
  });
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'tessera_agent_' });
  return registry;
}
