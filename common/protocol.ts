// The agent ↔ master protocol: internal HTTP endpoints and their bodies. Agents and masters meet only here.
import type { AgentInfo, AgentTaskReport, TaskInfo, TaskStatus } from './types.js';

export const INTERNAL_PATHS = {
  /** master: agent (re-)registers. */
  register: '/internal/v1/agents/register',
  /** master: agent heartbeat; 404 AGENT_UNKNOWN tells the agent to re-register. */
  heartbeat: (agentId: string) => `/internal/v1/agents/${encodeURIComponent(agentId)}/heartbeat`,
  /** master: a status update (or a batch of them); a 200 answer acknowledges the uuid(s). */
  status: (agentId: string) => `/internal/v1/agents/${encodeURIComponent(agentId)}/status`,
  /** agent: launch a task (202). */
  launch: '/internal/v1/tasks',
  /** agent: kill a task (202). */
  kill: (taskId: string) => `/internal/v1/tasks/${encodeURIComponent(taskId)}/kill`,
  /** agent: a framework acknowledged these status updates (200); the agent may forget them. */
  acknowledge: '/internal/v1/acknowledgements',
} as const;

export interface RegisterRequest {
  /** Present when the agent re-registers with the id it checkpointed. */
  agent_id?: string;
  info: AgentInfo;
  tasks: AgentTaskReport[];
}

export interface RegisterResponse {
  agent_id: string;
  master_id: string;
  heartbeat_interval_seconds: number;
  /** Tasks the master already gave up on (reported LOST): the agent must kill them. */
  kill_task_ids: string[];
}

export interface HeartbeatResponse {
  ok: true;
}

export interface StatusUpdateRequest {
  update: TaskStatus;
}

/**
 * `acknowledged`: done, the agent forgets the update. `received`: the master forwarded it to the task's
 * framework; the agent keeps it (and holds that task's next update) until an acknowledgement for its
 * uuid arrives at INTERNAL_PATHS.acknowledge, re-sending it now and then meanwhile.
 */
export interface StatusUpdateResponse {
  acknowledged?: string;
  received?: string;
}

/**
 * Several updates in one POST to the same path, applied in array order. The agent puts at most one
 * update per task in a batch (the head of that task's queue), so per-task order is kept.
 */
export interface StatusUpdateBatchRequest {
  updates: TaskStatus[];
}

/** The uuids applied (or recognised as duplicates), in request order, split as in StatusUpdateResponse. */
export interface StatusUpdateBatchResponse {
  acknowledged: string[];
  received?: string[];
}

/** Body of INTERNAL_PATHS.acknowledge: acknowledgements that reached the master from frameworks. */
export interface AcknowledgeRequest {
  acknowledgements: Array<{ task_id: string; uuid: string }>;
}

/** Most updates one batch may carry. */
export const MAX_STATUS_UPDATE_BATCH = 256;

export interface LaunchRequest {
  task: TaskInfo;
}

export interface KillRequest {
  grace_period_seconds?: number;
}

/**
 * When the leading master changes, an agent waits a random time in [0, this) before it re-registers,
 * so thousands of agents do not hit a new leader in the same instant (Mesos: registration_backoff_factor).
 */
export const AGENT_REREGISTER_JITTER_MS = 1000;
