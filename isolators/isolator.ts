// The Isolator contract (DESIGN.md §Isolation): one cgroup per container, limits the kernel enforces.
import type { ResourceStatistics } from '../common/index.js';

export interface ContainerLimits {
  /** CPU share as a fraction of cores: 0.5 = half a core (CFS quota) and a proportional weight. */
  cpus: number;
  /** Hard memory limit; swap is not allowed. */
  memBytes: number;
  /** Maximum number of processes/threads, if limited. */
  pids?: number;
}

export type IsolatorName = 'cgroups-v2' | 'cgroups-v1' | 'posix';

/** A limit the kernel enforced, e.g. an OOM kill. */
export interface Limitation {
  resource: 'mem';
  reason: 'REASON_CONTAINER_LIMITATION_MEMORY';
  message: string;
}

export interface Isolator {
  readonly name: IsolatorName;
  /** False for posix: nothing is enforced. */
  readonly enforcing: boolean;
  /**
   * Where Docker should create container cgroups (HostConfig.CgroupParent, cgroupfs driver) so they
   * sit beneath the agent's own cgroup; undefined when no cgroups are used.
   */
  readonly dockerCgroupParent: string | undefined;
  /** Make the container's cgroup and write its limits. A failed setup removes what it made. */
  prepare(containerId: string, limits: ContainerLimits): Promise<void>;
  /** Move a process into the container's cgroup (before it runs the task's program). */
  isolate(containerId: string, pid: number): Promise<void>;
  update(containerId: string, limits: ContainerLimits): Promise<void>;
  usage(containerId: string): Promise<ResourceStatistics>;
  /**
   * The container's OOM kill count alone — what every task exit must check, without reading the full
   * usage. undefined when the isolator cannot tell (posix).
   */
  oomKills(containerId: string): Promise<number | undefined>;
  /** Resolves when a limit is hit (OOM kill). Rejects with IsolatorError code CANCELLED after cleanup. */
  watch(containerId: string): Promise<Limitation>;
  /** PIDs currently in the container's cgroup; [] if it does not exist. */
  processes(containerId: string): Promise<number[]>;
  /** Whether the container's cgroup exists (agent recovery). */
  exists(containerId: string): Promise<boolean>;
  /** SIGKILL everything in the container's cgroup and wait until it is empty; the cgroup stays. */
  kill(containerId: string): Promise<void>;
  /** Kill what is left and remove the cgroup. Idempotent. */
  cleanup(containerId: string): Promise<void>;
}
