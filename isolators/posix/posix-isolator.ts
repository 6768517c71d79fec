// The posix isolator: no cgroups, so nothing is enforced (enforcing=false). It only remembers the
// pids given to isolate(), reports their CPU times from /proc and kills their process groups.
import { errorMessage, type Logger, type ResourceStatistics } from '../../common/index.js';
import { IsolatorError } from '../errors.js';
import type { ContainerLimits, Isolator, Limitation } from '../isolator.js';
import { delay } from '../wait-until.js';
import { isRunning, readProcStat } from './proc-stat.js';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ). */
const USER_HZ = 100;
const KILL_DEADLINE_MS = 10_000;
const POLL_MS = 10;

interface PosixContainer {
  limits: ContainerLimits;
  pids: Set<number>;
  cancelWatchers: Set<(err: IsolatorError) => void>;
}

export class PosixIsolator implements Isolator {
  readonly name = 'posix' as const;
  readonly enforcing = false;
  readonly dockerCgroupParent = undefined;
  private readonly containers = new Map<string, PosixContainer>();

  private constructor(private readonly logger: Logger) {}

  static async create(options: { logger: Logger; reason?: string }): Promise<PosixIsolator> {
    options.logger.warn(
      { reason: options.reason },
      'POSIX ISOLATION: no cgroups: limits are NOT enforced (cpu, memory and pids limits are only advisory)',
    );
    return new PosixIsolator(options.logger);
  }

  private get(containerId: string): PosixContainer {
    const container = this.containers.get(containerId);
    if (!container) throw new IsolatorError('NOT_FOUND', `container ${containerId} not found`);
    return container;
  }

  async prepare(containerId: string, limits: ContainerLimits): Promise<void> {
    if (!this.containers.has(containerId)) {
      this.containers.set(containerId, { limits, pids: new Set(), cancelWatchers: new Set() });
    }
  }

  async isolate(containerId: string, pid: number): Promise<void> {
    this.get(containerId).pids.add(pid);
  }

  async update(containerId: string, limits: ContainerLimits): Promise<void> {
    this.get(containerId).limits = limits;
  }

  /** No memory cgroup, so no OOM counter. */
  async oomKills(_containerId: string): Promise<number | undefined> {
    return undefined;
  }

  async usage(containerId: string): Promise<ResourceStatistics> {
    const container = this.get(containerId);
    const stats = await Promise.all([...container.pids].map((pid) => readProcStat(pid)));
    let user = 0;
    let system = 0;
    let alive = 0;
    for (const stat of stats) {
      if (!stat) continue;
      user += stat.userTicks;
      system += stat.systemTicks;
      if (stat.state !== 'Z' && stat.state !== 'X') alive += 1;
    }
    return {
      timestamp: Date.now() / 1000,
      // The limits are reported as configured, not enforced.
      cpus_limit: container.limits.cpus,
      mem_limit_bytes: container.limits.memBytes,
      cpus_user_time_secs: user / USER_HZ,
      cpus_system_time_secs: system / USER_HZ,
      processes: alive,
    };
  }

  watch(containerId: string): Promise<Limitation> {
    const container = this.get(containerId);
    // Nothing is enforced, so no limit is ever hit: this settles only when cleanup() cancels it.
    return new Promise<Limitation>((_resolve, reject) => {
      container.cancelWatchers.add(reject);
    });
  }

  async processes(containerId: string): Promise<number[]> {
    const container = this.containers.get(containerId);
    if (!container) return [];
    const pids = [...container.pids];
    const running = await Promise.all(pids.map((pid) => isRunning(pid)));
    return pids.filter((_pid, i) => running[i]).sort((a, b) => a - b);
  }

  async exists(containerId: string): Promise<boolean> {
    return this.containers.has(containerId);
  }

  /** SIGKILLs the process group of each tracked pid (descendants that left it escape: nothing enforces). */
  async kill(containerId: string): Promise<void> {
    const container = this.containers.get(containerId);
    if (!container) return;
    const deadline = Date.now() + KILL_DEADLINE_MS;
    for (const pid of container.pids) {
      const stat = await readProcStat(pid);
      // Kill the group only if the pid leads it: killing our own (the agent's) group would be fatal.
      const group = stat?.pgrp === pid ? -pid : pid;
      for (const target of group === pid ? [pid] : [group, pid]) {
        try {
          process.kill(target, 'SIGKILL');
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ESRCH') this.logger.warn({ pid: target, err: errorMessage(err) }, 'kill failed');
        }
      }
    }
    while ((await this.processes(containerId)).length > 0) {
      if (Date.now() >= deadline) {
        throw new IsolatorError('KILL_FAILED', `processes of ${containerId} survived SIGKILL`, { retryable: true });
      }
      await delay(POLL_MS);
    }
  }

  async cleanup(containerId: string): Promise<void> {
    const container = this.containers.get(containerId);
    if (!container) return;
    await this.kill(containerId);
    const cancelled = new IsolatorError('CANCELLED', `container ${containerId} cleaned up`);
    for (const cancel of container.cancelWatchers) cancel(cancelled);
    this.containers.delete(containerId);
  }
}
