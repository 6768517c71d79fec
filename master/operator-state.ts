// GET /master/state in the shape Mesos tooling reads (Mesos field names; extra fields are harmless).
import type { AgentAttributes, Resources, TaskStatus, TaskView } from '../common/index.js';
import type { AgentRecord } from './agents/index.js';
import { FRAMEWORK_ID, FRAMEWORK_NAME, MASTER_VERSION } from './framework.js';
import type { ScalarResources } from './used-resources.js';

export interface MasterIdentity {
  id: string;
  hostname: string;
  ip: string;
  port: number;
  /** Seconds since the epoch. */
  startTime: number;
}

export interface MesosTask {
  id: string;
  name: string;
  framework_id: string;
  executor_id: string;
  slave_id: string;
  state: TaskView['state'];
  resources: Resources;
  statuses: TaskStatus[];
  container?: TaskView['container'];
}

export interface MasterState {
  version: string;
  id: string;
  pid: string;
  hostname: string;
  start_time: number;
  elected_time: number;
  leader: string;
  leader_info: {
    id: string;
    pid: string;
    hostname: string;
    ip: string;
    port: number;
    version: string;
    address: { hostname: string; ip: string; port: number };
  };
  activated_slaves: number;
  deactivated_slaves: number;
  unreachable_slaves: number;
  slaves: Array<{
    id: string;
    pid: string;
    hostname: string;
    port: number;
    resources: Resources;
    used_resources: ScalarResources;
    active: boolean;
    /** Tessera extra: 'active' | 'recovering' | 'unreachable'. */
    status: AgentRecord['status'];
    registered_time: number;
    reregistered_time?: number;
    executors: string[];
    isolation: string;
    /** The agent's `--attributes`, name → value (TEXT as a string, SCALAR as a number), as Mesos shows them. */
    attributes: AgentAttributes;
  }>;
  frameworks: Array<{
    id: string;
    name: string;
    active: boolean;
    /** Tessera extra fields in Mesos's names where Mesos has them. */
    user?: string;
    role?: string;
    principal?: string;
    failover_timeout?: number;
    registered_time?: number;
    offers?: number;
    tasks: MesosTask[];
    completed_tasks: MesosTask[];
  }>;
  pending_tasks: TaskView[];
}

/** A scheduler-API framework as /master/state shows it. */
export interface FrameworkSummary {
  id: string;
  name: string;
  user: string;
  role: string;
  principal?: string;
  failover_timeout: number;
  registered_time: number;
  /** Subscribed now. */
  active: boolean;
  offers: number;
}

/** Who leads, as a non-leading master learned it from ZooKeeper (MasterInfo fields). */
export interface LeaderIdentity {
  id: string;
  hostname: string;
  ip: string;
  port: number;
}

export function buildMasterState(input: {
  master: MasterIdentity;
  leader: LeaderIdentity;
  /** Seconds since the epoch at which this master was elected. */
  electedTime: number;
  agents: readonly AgentRecord[];
  usedBy: (agentId: string) => ScalarResources;
  liveTasks: readonly TaskView[];
  completedTasks: readonly TaskView[];
  /** Scheduler-API frameworks the leader knows (subscribed or within their failover timeout). */
  frameworks?: readonly FrameworkSummary[];
}): MasterState {
  const { master } = input;
  const pid = `master@${master.ip}:${master.port}`;
  const placed = input.liveTasks.filter((t) => t.agent_id !== undefined);
  const pending = input.liveTasks.filter((t) => t.agent_id === undefined);
  return {
    version: MASTER_VERSION,
    id: master.id,
    pid,
    hostname: master.hostname,
    start_time: master.startTime,
    elected_time: input.electedTime,
    ...leaderFields(input.leader),
    activated_slaves: input.agents.filter((a) => a.status === 'active').length,
    deactivated_slaves: input.agents.filter((a) => a.status === 'recovering').length,
    unreachable_slaves: input.agents.filter((a) => a.status === 'unreachable').length,
    slaves: input.agents.map((agent) => ({
      id: agent.id,
      pid: `slave(1)@${agent.info.ip}:${agent.info.port}`,
      hostname: agent.info.hostname,
      port: agent.info.port,
      resources: agent.info.resources,
      used_resources: input.usedBy(agent.id),
      active: agent.status === 'active',
      status: agent.status,
      registered_time: agent.registered_at,
      ...(agent.reregistered_at === undefined ? {} : { reregistered_time: agent.reregistered_at }),
      executors: agent.info.executors,
      isolation: agent.info.isolation,
      attributes: agent.info.attributes ?? {},
    })),
    frameworks: frameworkIds([...(input.frameworks ?? []).map((f) => f.id)], placed, input.completedTasks).map((id) => {
      const known = input.frameworks?.find((f) => f.id === id);
      return {
        id,
        name: known?.name ?? (id === FRAMEWORK_ID ? FRAMEWORK_NAME : id),
        active: known?.active ?? id === FRAMEWORK_ID,
        ...(known
          ? {
              user: known.user,
              role: known.role,
              failover_timeout: known.failover_timeout,
              registered_time: known.registered_time,
              offers: known.offers,
              ...(known.principal === undefined ? {} : { principal: known.principal }),
            }
          : {}),
        tasks: placed.filter((t) => t.framework_id === id).map(mesosTask),
        completed_tasks: input.completedTasks.filter((t) => t.framework_id === id).map(mesosTask),
      };
    }),
    pending_tasks: pending,
  };
}

/**
 * What a master that does not lead answers: who it is and who leads (as Mesos does), nothing of
 * agents or tasks, which only the leader knows.
 */
export function buildFollowerState(master: MasterIdentity, leader: LeaderIdentity | undefined): FollowerState {
  return {
    version: MASTER_VERSION,
    id: master.id,
    pid: `master@${master.ip}:${master.port}`,
    hostname: master.hostname,
    start_time: master.startTime,
    ...(leader ? leaderFields(leader) : {}),
    activated_slaves: 0,
    deactivated_slaves: 0,
    unreachable_slaves: 0,
    slaves: [],
    frameworks: [],
    pending_tasks: [],
  };
}

export type FollowerState = Omit<MasterState, 'elected_time' | 'leader' | 'leader_info'> &
  Partial<Pick<MasterState, 'leader' | 'leader_info'>>;

function leaderFields(leader: LeaderIdentity): Pick<MasterState, 'leader' | 'leader_info'> {
  const pid = `master@${leader.ip}:${leader.port}`;
  return {
    leader: pid,
    leader_info: {
      id: leader.id,
      pid,
      hostname: leader.hostname,
      ip: leader.ip,
      port: leader.port,
      version: MASTER_VERSION,
      address: { hostname: leader.hostname, ip: leader.ip, port: leader.port },
    },
  };
}

/** The built-in framework always, the known frameworks, and any other framework an agent reported tasks of. */
function frameworkIds(known: readonly string[], ...lists: ReadonlyArray<readonly TaskView[]>): string[] {
  const ids = new Set<string>([FRAMEWORK_ID, ...known]);
  for (const list of lists) for (const task of list) ids.add(task.framework_id);
  return [...ids];
}

function mesosTask(view: TaskView): MesosTask {
  const task: MesosTask = {
    // Mesos shows the framework's own id (see TaskInfo.framework_task_id).
    id: view.framework_task_id ?? view.task_id,
    name: view.name,
    framework_id: view.framework_id,
    executor_id: '',
    slave_id: view.agent_id ?? '',
    state: view.state,
    resources: view.resources,
    statuses: view.statuses,
  };
  if (view.container) task.container = view.container;
  return task;
}
