// The agent's GET /state body: Mesos's slave state, trimmed to what Tessera has.
import { isTerminal, normalizeRanges, type AgentAttributes, type PortRange, type Resources, type TaskState, type TaskStatus } from '../../common/index.js';
import type { TaskRecord } from '../tasks/index.js';

/**
 * Resources as Mesos's /state prints them: scalars as numbers, ranges as one string
 * (`"ports": "[31000-32000, 40000-40010]"`).
 */
export interface StateResources {
  cpus: number;
  mem: number;
  disk?: number;
  ports?: string;
  pids?: number;
}

/** "[31000-32000, 40000-40010]", Mesos's text form of a range set. */
export function formatPortRanges(ranges: readonly PortRange[]): string {
  return `[${normalizeRanges(ranges)
    .map((r) => `${r.begin}-${r.end}`)
    .join(', ')}]`;
}

export function stateResources(r: Resources): StateResources {
  const out: StateResources = { cpus: r.cpus, mem: r.mem };
  if (r.disk !== undefined) out.disk = r.disk;
  if (r.ports !== undefined && r.ports.length > 0) out.ports = formatPortRanges(r.ports);
  if (r.pids !== undefined) out.pids = r.pids;
  return out;
}

export interface StateTask {
  id: string;
  name: string;
  state: TaskState;
  framework_id: string;
  resources: StateResources;
  /** The task's sandbox directory (absolute): stdout and stderr are files in it. */
  directory: string;
  container_id: string;
  statuses: TaskStatus[];
}

export interface AgentState {
  id: string | undefined;
  hostname: string;
  /** `--attributes`, name → value, as Mesos's /state shows them. */
  attributes: AgentAttributes;
  /** "slave(1)@ip:port", as Mesos writes it. */
  pid: string;
  master_hostname?: string;
  registered: boolean;
  resources: StateResources;
  isolation: string;
  executors: string[];
  start_time: number;
  tasks: StateTask[];
  completed_tasks: StateTask[];
}

export interface StateInputs {
  id: string | undefined;
  hostname: string;
  attributes: AgentAttributes;
  ip: string;
  port: number;
  masterHostname: string | undefined;
  registered: boolean;
  resources: Resources;
  isolation: string;
  executors: string[];
  startTime: number;
  tasks: TaskRecord[];
}

export function stateView(inputs: StateInputs): AgentState {
  const view: AgentState = {
    id: inputs.id,
    hostname: inputs.hostname,
    attributes: inputs.attributes,
    pid: `slave(1)@${inputs.ip}:${inputs.port}`,
    registered: inputs.registered,
    resources: stateResources(inputs.resources),
    isolation: inputs.isolation,
    executors: inputs.executors,
    start_time: inputs.startTime,
    tasks: inputs.tasks.filter((r) => !isTerminal(r.state)).map(taskView),
    completed_tasks: inputs.tasks.filter((r) => isTerminal(r.state)).map(taskView),
  };
  if (inputs.masterHostname !== undefined) view.master_hostname = inputs.masterHostname;
  return view;
}

function taskView(record: TaskRecord): StateTask {
  return {
    id: record.task.task_id,
    name: record.task.name,
    state: record.state,
    framework_id: record.task.framework_id ?? '',
    resources: stateResources(record.task.resources),
    directory: record.sandboxDir,
    container_id: record.containerId,
    statuses: record.statuses,
  };
}
