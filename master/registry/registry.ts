// What a master must remember across restarts and failovers. Running tasks' states are NOT here:
// agents report them when they re-register (as in Mesos). What is here: the agents the master
// admitted, and the task API's own intent (like any framework's): each submitted task that has not
// ended, with the agent it was launched on once that agent took it.
import type { AgentInfo, TaskSubmission } from '../../common/index.js';

/** An agent the master admitted once. `registered_at` is seconds since the epoch. */
export interface AdmittedAgent {
  id: string;
  info: AgentInfo;
  registered_at: number;
}

/**
 * A task submitted through the task API that has not ended. Without `agent_id` it waits for room
 * (a waiting task must never be lost); with it, that agent accepted the launch, so a new leader
 * knows whom to expect it from and can report it lost when that agent never comes back.
 */
export interface TaskRecord {
  task_id: string;
  submission: TaskSubmission;
  /** Seconds since the epoch. */
  submitted_at: number;
  agent_id?: string;
}

/**
 * A framework subscribed through the scheduler API, as a new leader must know it to accept its
 * re-subscription and to remove it (killing its tasks) once its failover timeout has passed.
 */
export interface FrameworkRecord {
  id: string;
  name: string;
  user: string;
  /** The role it is allocated under ('*' when it gave none). */
  role: string;
  principal?: string;
  /** Seconds a disconnected framework keeps its tasks (Mesos FrameworkInfo.failover_timeout). */
  failover_timeout: number;
  hostname?: string;
  webui_url?: string;
  /** Seconds since the epoch: first subscription. */
  registered_at: number;
}

export interface RegistryState {
  agents: AdmittedAgent[];
  /** Submission (FIFO) order. */
  tasks: TaskRecord[];
  /** Scheduler-API frameworks (the built-in task framework is not one of them). */
  frameworks: FrameworkRecord[];
}

export interface Registry {
  /** The last saved state, or an empty one when nothing was ever saved. */
  load(): Promise<RegistryState>;
  /**
   * Replaces the stored state; durable when the promise resolves. Callers do not overlap saves
   * (the master's group commit waits for one to settle before it starts the next).
   */
  save(state: RegistryState): Promise<void>;
  /** Releases what it holds (a ZooKeeper registry does not own its session). */
  close?(): Promise<void>;
}

export function emptyRegistryState(): RegistryState {
  return { agents: [], tasks: [], frameworks: [] };
}
