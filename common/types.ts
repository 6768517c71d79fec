// Wire types shared by master, agent and CLI. Field names follow Mesos v1 JSON where Mesos has them.
// The ajv schemas in schemas.ts are typed as JSONSchemaType<...> of these, so the two cannot drift.
import type { StatusSource, TaskReason, TaskState } from './task-state.js';

/** An inclusive range of ports, as Mesos's `Value.Range`. */
export interface PortRange {
  begin: number;
  end: number;
}

/**
 * What a task asks for (or an agent has, or an offer holds). `mem` and `disk` in MB; `ports` as
 * ranges (agents offer [31000-32000] by default). `pids` is a limit only: it is never offered.
 */
export interface Resources {
  cpus: number;
  mem: number;
  disk?: number;
  ports?: PortRange[];
  pids?: number;
}

export interface EnvironmentVariable {
  name: string;
  value: string;
}

export interface CommandInfo {
  /** true (default): `value` runs through `/bin/sh -c`; false: `value` is the program, `arguments` its argv. */
  shell?: boolean;
  value?: string;
  arguments?: string[];
  environment?: { variables: EnvironmentVariable[] };
  user?: string;
}

export interface DockerInfo {
  image: string;
  network?: 'HOST' | 'BRIDGE' | 'NONE';
  force_pull_image?: boolean;
}

export interface ContainerInfo {
  type: 'DOCKER' | 'MESOS';
  docker?: DockerInfo;
}

/**
 * A health check the agent runs against a running task (Mesos HealthCheck). COMMAND runs `command`
 * in the task's sandbox and cgroup (`docker exec` for Docker tasks); exit 0 is healthy. HTTP and TCP
 * probe a port of the task. Seconds are doubles; defaults as Mesos: delay 15, interval 10, timeout 20,
 * consecutive_failures 3 (0: never kill), grace_period 10.
 */
export interface HealthCheck {
  type: 'COMMAND' | 'HTTP' | 'TCP';
  command?: CommandInfo;
  http?: { port: number; path?: string; scheme?: 'http' | 'https' };
  tcp?: { port: number };
  delay_seconds?: number;
  interval_seconds?: number;
  timeout_seconds?: number;
  consecutive_failures?: number;
  grace_period_seconds?: number;
}

/** A task as the master hands it to an agent. */
export interface TaskInfo {
  task_id: string;
  name: string;
  agent_id: string;
  framework_id?: string;
  resources: Resources;
  command?: CommandInfo;
  container?: ContainerInfo;
  /** SIGTERM → SIGKILL grace on kill, seconds. */
  kill_grace_period_seconds?: number;
  /**
   * The id its framework gave the task, when the master had to give it another `task_id`: task ids
   * are unique per framework, but agents key tasks by `task_id` alone.
   */
  framework_task_id?: string;
  health_check?: HealthCheck;
}

/** Body of `POST /api/v1/tasks`: run one task without writing a framework. */
export interface TaskSubmission {
  name: string;
  resources: Resources;
  command?: CommandInfo;
  container?: ContainerInfo;
  kill_grace_period_seconds?: number;
}

export interface TaskStatus {
  task_id: string;
  agent_id?: string;
  state: TaskState;
  reason?: TaskReason;
  message?: string;
  source: StatusSource;
  /** Seconds since the epoch (float), as Mesos. */
  timestamp: number;
  /** Identifies this update for acknowledgement. */
  uuid: string;
  container_status?: { container_id?: string; exit_code?: number };
  /** The task's health check result, once it has one (health updates and every later update). */
  healthy?: boolean;
}

/** Per-task isolation metrics (Mesos ResourceStatistics names). */
export interface ResourceStatistics {
  timestamp: number;
  cpus_limit?: number;
  cpus_user_time_secs?: number;
  cpus_system_time_secs?: number;
  cpus_nr_periods?: number;
  cpus_nr_throttled?: number;
  cpus_throttled_time_secs?: number;
  mem_limit_bytes?: number;
  mem_rss_bytes?: number;
  mem_total_bytes?: number;
  mem_max_bytes?: number;
  mem_oom_kills?: number;
  processes?: number;
}

/** One entry of the agent's `GET /monitor/statistics` array (Mesos shape plus task/container ids). */
export interface TaskStatisticsEntry {
  framework_id: string;
  executor_id: string;
  executor_name: string;
  source: string;
  task_id: string;
  container_id: string;
  statistics: ResourceStatistics;
}

/** What an agent tells the master about itself. */
export interface AgentInfo {
  hostname: string;
  ip: string;
  port: number;
  resources: Resources;
  /** Which executors this agent can run: 'command', 'docker'. */
  executors: string[];
  /** The isolator in force: 'cgroups-v2', 'cgroups-v1', 'posix'. */
  isolation: string;
  /** `--attributes "rack:r1;gpus:2"`: a number is a Mesos SCALAR attribute, anything else TEXT. */
  attributes?: AgentAttributes;
}

/** Agent attributes by name, as Mesos's state.json shows them. */
export type AgentAttributes = Record<string, string | number>;

/** A task the agent reports on (re-)registration: the task and its latest status. */
export interface AgentTaskReport {
  task: TaskInfo;
  status: TaskStatus;
}

/** The master's view of one task (`GET /api/v1/tasks/{id}`, and rows of `GET /api/v1/tasks`). */
export interface TaskView {
  task_id: string;
  name: string;
  framework_id: string;
  agent_id?: string;
  state: TaskState;
  reason?: TaskReason;
  message?: string;
  resources: Resources;
  command?: CommandInfo;
  container?: ContainerInfo;
  statuses: TaskStatus[];
  /** The framework's own id of the task when `task_id` had to differ (see TaskInfo.framework_task_id). */
  framework_task_id?: string;
  /** Where the task runs, for `tessera logs` and `tessera top`. */
  agent?: { id: string; hostname: string; ip: string; port: number };
  /** Seconds since the epoch. */
  submitted_at: number;
  /** The latest health check result, when the task has a health check that reported. */
  healthy?: boolean;
}

/** The error body every API answers 4xx/5xx with. */
export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}
