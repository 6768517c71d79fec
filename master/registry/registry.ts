// What the master must remember across restarts. Running tasks are NOT here: agents report them when
// they re-register (as in Mesos). ZooKeeper-backed registries implement the same interface later.
import type { AgentInfo, TaskSubmission } from '../../common/index.js';

/** An agent the master admitted once. `registered_at` is seconds since the epoch. */
export interface AdmittedAgent {
  id: string;
  info: AgentInfo;
  registered_at: number;
}

/** A submitted task not yet handed to an agent: a waiting task must never be lost. */
export interface PendingSubmission {
  task_id: string;
  submission: TaskSubmission;
  /** Seconds since the epoch. */
  submitted_at: number;
}

export interface RegistryState {
  agents: AdmittedAgent[];
  /** FIFO order. */
  pending: PendingSubmission[];
}

export interface Registry {
  /** The last saved state, or an empty one when nothing was ever saved. */
  load(): Promise<RegistryState>;
  /** Replaces the stored state; durable when the promise resolves. */
  save(state: RegistryState): Promise<void>;
}

export function emptyRegistryState(): RegistryState {
  return { agents: [], pending: [] };
}
