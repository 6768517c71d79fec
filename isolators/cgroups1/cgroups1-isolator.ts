// cgroups v1 isolator: one cgroup per container in each hierarchy we join (memory, cpu, cpuacct,
// pids, freezer), beneath this process's own cgroup in that hierarchy. Limits are plain data
// (controllerWrites) written by writeCgroupFiles; setup fans out with Promise.allSettled and reports
// every failure by controller (Mesos); kill is freeze + SIGKILL + thaw (containerd).
import { mkdir, realpath, rmdir, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { errorMessage, type Logger, type ResourceStatistics } from '../../common/index.js';
import { errnoCode } from '../cgroup-files.js';
import { settledFailures, type SettledFailures } from '../settled-failures.js';
import { DEFAULT_CGROUP_MOUNT, readOwnCgroupPaths } from '../detect.js';
import { IsolatorError } from '../errors.js';
import type { ContainerLimits, Isolator, Limitation } from '../isolator.js';
import { REQUIRED_CONTROLLERS, V1_CONTROLLERS, parseLimit, type V1Controller } from './controller.js';
import { FREEZER_STATE_FILE, parseFreezerState } from './freezer.js';
import { MEMSW_LIMIT_FILE, parseOomKills } from './memory.js';
import { existsNow, mkdirNow, readCgroupFileNow, writeCgroupFilesNow } from './cgroupfs-now.js';
import { readCgroups1Usage } from './usage.js';
import { delay } from '../wait-until.js';
import { controllerWrites } from './writes.js';

export interface Cgroups1IsolatorOptions {
  /** A name or relative path beneath this process's own cgroup, e.g. 'tessera'. */
  cgroupsRoot: string;
  logger: Logger;
  /** Where the v1 hierarchies are mounted, each at <mountPoint>/<controller>; default /sys/fs/cgroup. */
  mountPoint?: string;
  /** The file giving this process's own cgroups; default /proc/self/cgroup. */
  procSelfCgroup?: string;
}

/** One mounted hierarchy: several controllers share one when co-mounted (cpu,cpuacct on some hosts). */
interface Hierarchy {
  controllers: V1Controller[];
  /** This process's own cgroup path in the hierarchy, e.g. '/process_api/<id>' or '/'. */
  ownPath: string;
  /** <mount>/<own path>/<cgroupsRoot>: the parent of every container's cgroup. */
  base: string;
}

interface ContainerState {
  /** memory.oom_control's oom_kill when the container was prepared (or first watched). */
  oomBaseline: number | undefined;
  cleaningUp: boolean;
  cancelWatchers: Set<(err: IsolatorError) => void>;
}

const OOM_POLL_MS = 200;
const KILL_DEADLINE_MS = 10_000;
const RMDIR_DEADLINE_MS = 2_000;
const POLL_MS = 10;

/** A hierarchy is named by its controllers ('cpu,cpuacct' when co-mounted). */
function hierarchyNames(hierarchies: readonly Hierarchy[]): string[] {
  return hierarchies.map((h) => h.controllers.join(','));
}

async function readOomKills(memoryDir: string): Promise<number | undefined> {
  return parseOomKills(await readCgroupFileNow(memoryDir, 'memory.oom_control'));
}

/** Rejects ids that could escape the container's directory. */
function checkContainerId(containerId: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(containerId) || containerId.includes('..')) {
    throw new IsolatorError('NOT_FOUND', `invalid container id '${containerId}'`);
  }
}

export class Cgroups1Isolator implements Isolator {
  readonly name = 'cgroups-v1' as const;
  readonly enforcing = true;
  readonly dockerCgroupParent: string;
  private readonly containers = new Map<string, ContainerState>();

  private constructor(
    private readonly hierarchies: readonly Hierarchy[],
    private readonly byController: ReadonlyMap<V1Controller, Hierarchy>,
    private readonly memsw: boolean,
    cgroupsRoot: string,
    private readonly logger: Logger,
  ) {
    // Docker's cgroupfs driver makes <CgroupParent>/<id> at the same relative path in every
    // hierarchy. Our own cgroup differs per hierarchy (memory nested at /process_api/<id>, the
    // others at '/'); the longest own path is beneath every shorter one here (they are '/'), so
    // Docker's cgroups stay beneath our own cgroup in all hierarchies.
    const longest = hierarchies.map((h) => h.ownPath).reduce((a, b) => (b.length > a.length ? b : a), '/');
    this.dockerCgroupParent = posix.join(longest, cgroupsRoot, 'docker');
  }

  static async create(options: Cgroups1IsolatorOptions): Promise<Cgroups1Isolator> {
    const mountPoint = options.mountPoint ?? DEFAULT_CGROUP_MOUNT;
    const cgroupsRoot = posix.normalize(options.cgroupsRoot).replace(/^\/+|\/+$/g, '');
    if (cgroupsRoot === '' || cgroupsRoot === '.' || cgroupsRoot.split('/').includes('..')) {
      throw new IsolatorError('NO_CGROUPS', `invalid cgroupsRoot '${options.cgroupsRoot}'`);
    }
    let ownPaths: Map<string, string>;
    try {
      ownPaths = await readOwnCgroupPaths(options.procSelfCgroup);
    } catch (err) {
      throw new IsolatorError('NO_CGROUPS', `cannot read own cgroups: ${errorMessage(err)}`, { cause: err });
    }

    const byMount = new Map<string, Hierarchy>();
    const byController = new Map<V1Controller, Hierarchy>();
    const missing: string[] = [];
    for (const controller of V1_CONTROLLERS) {
      const ownPath = ownPaths.get(controller);
      let mount: string | undefined;
      try {
        // realpath: co-mounted controllers are symlinks to one hierarchy (cpu → cpu,cpuacct).
        mount = ownPath === undefined ? undefined : await realpath(join(mountPoint, controller));
      } catch {
        mount = undefined;
      }
      if (ownPath === undefined || mount === undefined) {
        if (REQUIRED_CONTROLLERS.includes(controller)) missing.push(controller);
        else options.logger.warn({ controller }, 'cgroup v1 controller not mounted; kill works without it');
        continue;
      }
      let hierarchy = byMount.get(mount);
      if (!hierarchy) {
        hierarchy = { controllers: [], ownPath, base: join(mount, ownPath, cgroupsRoot) };
        byMount.set(mount, hierarchy);
      }
      hierarchy.controllers.push(controller);
      byController.set(controller, hierarchy);
    }
    if (missing.length > 0) {
      throw new IsolatorError('NO_CGROUPS', `cgroup v1 controllers not mounted: ${missing.join(', ')}`);
    }

    const hierarchies = [...byMount.values()];
    const made = await Promise.allSettled(hierarchies.map((h) => mkdir(h.base, { recursive: true })));
    const { messages } = settledFailures(made, hierarchyNames(hierarchies));
    if (messages.length > 0) {
      throw new IsolatorError('CGROUP_SETUP_FAILED', `cannot make the cgroups root: ${messages.join('; ')}`);
    }
    const memory = byController.get('memory');
    const memsw = memory !== undefined && (await existsNow(join(memory.base, MEMSW_LIMIT_FILE)));
    const isolator = new Cgroups1Isolator(hierarchies, byController, memsw, cgroupsRoot, options.logger);
    options.logger.info(
      { hierarchies: hierarchies.map((h) => h.base), memsw, dockerCgroupParent: isolator.dockerCgroupParent },
      'cgroups v1 isolator ready',
    );
    return isolator;
  }

  private dir(hierarchy: Hierarchy, containerId: string): string {
    return join(hierarchy.base, containerId);
  }

  private controllerDir(controller: V1Controller, containerId: string): string | undefined {
    const hierarchy = this.byController.get(controller);
    return hierarchy && this.dir(hierarchy, containerId);
  }

  private dirs(containerId: string): Partial<Record<V1Controller, string>> {
    const dirs: Partial<Record<V1Controller, string>> = {};
    for (const [controller, hierarchy] of this.byController) dirs[controller] = this.dir(hierarchy, containerId);
    return dirs;
  }

  private memoryDir(containerId: string): string {
    const dir = this.controllerDir('memory', containerId);
    if (dir === undefined) throw new Error('memory hierarchy missing'); // create() requires it
    return dir;
  }

  async prepare(containerId: string, limits: ContainerLimits): Promise<void> {
    checkContainerId(containerId);
    const made: string[] = [];
    const mkdirs = await Promise.allSettled(
      this.hierarchies.map(async (h) => {
        const dir = this.dir(h, containerId);
        try {
          await mkdirNow(dir);
          made.push(dir);
        } catch (err) {
          if (errnoCode(err) !== 'EEXIST') throw err; // an existing cgroup is reused, never removed
        }
      }),
    );
    let failures = settledFailures(mkdirs, hierarchyNames(this.hierarchies));
    if (failures.messages.length === 0) failures = await this.writeLimits(containerId, limits, undefined);
    if (failures.messages.length > 0) {
      await Promise.allSettled(made.map((dir) => rmdir(dir)));
      throw new IsolatorError('CGROUP_SETUP_FAILED', `prepare ${containerId}: ${failures.messages.join('; ')}`, {
        cause: new AggregateError(failures.errors),
      });
    }
    // A memory cgroup made just now has had no OOM kill; only a reused one needs its counter read.
    const memoryDir = this.memoryDir(containerId);
    let oomBaseline: number | undefined = made.includes(memoryDir) ? 0 : undefined;
    if (oomBaseline === undefined) {
      try {
        oomBaseline = await readOomKills(memoryDir);
      } catch {
        oomBaseline = undefined;
      }
    }
    this.containers.set(containerId, { oomBaseline, cleaningUp: false, cancelWatchers: new Set() });
  }

  /** Writes every controller's files; returns the failures by controller name. */
  private async writeLimits(
    containerId: string,
    limits: ContainerLimits,
    currentLimitBytes: number | undefined,
  ): Promise<SettledFailures> {
    const controllers = [...this.byController.keys()];
    const results = await Promise.allSettled(
      controllers.map(async (controller) => {
        const dir = this.controllerDir(controller, containerId);
        if (dir === undefined) return;
        await writeCgroupFilesNow(dir, controllerWrites(controller, limits, { memsw: this.memsw, currentLimitBytes }));
      }),
    );
    return settledFailures(results, controllers);
  }

  async isolate(containerId: string, pid: number): Promise<void> {
    checkContainerId(containerId);
    const results = await Promise.allSettled(
      this.hierarchies.map((h) => writeFile(join(this.dir(h, containerId), 'cgroup.procs'), String(pid))),
    );
    const { messages } = settledFailures(results, hierarchyNames(this.hierarchies));
    if (messages.length > 0) {
      const gone = results.every((r) => r.status === 'rejected' && errnoCode(r.reason) === 'ENOENT');
      throw new IsolatorError(
        gone ? 'NOT_FOUND' : 'CGROUP_SETUP_FAILED',
        `isolate pid ${pid} into ${containerId}: ${messages.join('; ')}`,
      );
    }
  }

  async update(containerId: string, limits: ContainerLimits): Promise<void> {
    checkContainerId(containerId);
    if (!(await this.exists(containerId))) throw new IsolatorError('NOT_FOUND', `container ${containerId} not found`);
    let current: number | undefined;
    try {
      current = parseLimit(await readCgroupFileNow(this.memoryDir(containerId), 'memory.limit_in_bytes'));
    } catch {
      current = undefined;
    }
    const failures = await this.writeLimits(containerId, limits, current);
    if (failures.messages.length > 0) {
      throw new IsolatorError('CGROUP_SETUP_FAILED', `update ${containerId}: ${failures.messages.join('; ')}`, {
        cause: new AggregateError(failures.errors),
      });
    }
  }

  async usage(containerId: string): Promise<ResourceStatistics> {
    checkContainerId(containerId);
    if (!(await existsNow(this.memoryDir(containerId)))) {
      throw new IsolatorError('NOT_FOUND', `container ${containerId} not found`);
    }
    return readCgroups1Usage(this.dirs(containerId));
  }

  /** The container's OOM kill count (memory.oom_control alone: what an exit check needs, cheaply). */
  async oomKills(containerId: string): Promise<number | undefined> {
    checkContainerId(containerId);
    try {
      return await readOomKills(this.memoryDir(containerId));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw new IsolatorError('NOT_FOUND', `container ${containerId} not found`, { cause: err });
      throw err;
    }
  }

  async watch(containerId: string): Promise<Limitation> {
    checkContainerId(containerId);
    let state = this.containers.get(containerId);
    if (!state) {
      // Recovered after an agent restart: count OOM kills from the first poll on.
      state = { oomBaseline: undefined, cleaningUp: false, cancelWatchers: new Set() };
      this.containers.set(containerId, state);
    }
    const watched = state;
    const memoryDir = this.memoryDir(containerId);
    return new Promise<Limitation>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let done = false;
      const finish = (): void => {
        done = true;
        if (timer) clearTimeout(timer);
        watched.cancelWatchers.delete(cancel);
      };
      const cancel = (err: IsolatorError): void => {
        if (done) return;
        finish();
        reject(err);
      };
      watched.cancelWatchers.add(cancel);
      const poll = async (): Promise<void> => {
        let kills: number;
        try {
          kills = (await readOomKills(memoryDir)) ?? 0;
        } catch (err) {
          if (watched.cleaningUp) return; // cleanup() rejects with CANCELLED when it is done
          cancel(new IsolatorError('NOT_FOUND', `container ${containerId} vanished`, { cause: err }));
          return;
        }
        if (done) return;
        if (watched.oomBaseline === undefined) watched.oomBaseline = kills;
        if (kills > watched.oomBaseline) {
          finish();
          resolve(await this.memoryLimitation(memoryDir, kills - watched.oomBaseline));
          return;
        }
        timer = setTimeout(() => void poll(), OOM_POLL_MS);
        timer.unref(); // a watch alone must not keep the process alive
      };
      void poll();
    });
  }

  private async memoryLimitation(memoryDir: string, kills: number): Promise<Limitation> {
    const [limit, max] = await Promise.all(
      ['memory.limit_in_bytes', 'memory.max_usage_in_bytes'].map((file) =>
        readCgroupFileNow(memoryDir, file).then(parseLimit, () => undefined),
      ),
    );
    const mb = (bytes: number | undefined): string => (bytes === undefined ? '?' : `${Math.round(bytes / 2 ** 20)}MB`);
    return {
      resource: 'mem',
      reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
      message: `Memory limit exceeded: Requested: ${mb(limit)} Maximum Used: ${mb(max)} (${kills} OOM kill${kills === 1 ? '' : 's'})`,
    };
  }

  async processes(containerId: string): Promise<number[]> {
    checkContainerId(containerId);
    const lists = await Promise.all(
      this.hierarchies.map((h) =>
        readCgroupFileNow(this.dir(h, containerId), 'cgroup.procs').then(
          (text) => text.split('\n').filter((line) => line.trim() !== '').map(Number),
          () => [] as number[],
        ),
      ),
    );
    return [...new Set(lists.flat())].sort((a, b) => a - b);
  }

  async exists(containerId: string): Promise<boolean> {
    checkContainerId(containerId);
    const found = await Promise.all(this.hierarchies.map((h) => existsNow(this.dir(h, containerId))));
    return found.some(Boolean);
  }

  async kill(containerId: string): Promise<void> {
    checkContainerId(containerId);
    // Nothing enters a cgroup unless moved there, so an empty one stays empty: no freeze needed.
    if ((await this.processes(containerId)).length === 0) return;
    const freezerDir = this.controllerDir('freezer', containerId);
    const hasFreezer = freezerDir !== undefined && (await existsNow(freezerDir));
    const deadline = Date.now() + KILL_DEADLINE_MS;
    for (;;) {
      // Frozen, nothing in the cgroup can fork, so the list we kill is complete.
      let pids: number[];
      try {
        if (hasFreezer) await this.setFreezer(freezerDir, 'FROZEN', deadline);
        pids = await this.processes(containerId);
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch (err) {
            if (errnoCode(err) !== 'ESRCH') throw err;
          }
        }
      } finally {
        // SIGKILL is delivered to frozen tasks only once they thaw; never leave the cgroup frozen.
        if (hasFreezer) await this.setFreezer(freezerDir, 'THAWED', deadline);
      }
      if (pids.length === 0) return;
      const settle = Math.min(deadline, Date.now() + 500);
      let left = await this.processes(containerId);
      while (left.length > 0 && Date.now() < settle) {
        await delay(POLL_MS);
        left = await this.processes(containerId);
      }
      if (left.length === 0) return;
      if (Date.now() >= deadline) {
        throw new IsolatorError('KILL_FAILED', `processes of ${containerId} survived SIGKILL: ${left.join(', ')}`, {
          retryable: true,
        });
      }
    }
  }

  private async setFreezer(dir: string, state: 'FROZEN' | 'THAWED', deadline: number): Promise<void> {
    try {
      await writeFile(join(dir, FREEZER_STATE_FILE), state);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return;
      throw err;
    }
    if (state === 'THAWED') return;
    // FREEZING until every task stops; a task stuck in the kernel may delay it. Give up after 1 s:
    // the SIGKILLs then race with forks, and the kill loop goes round again.
    const until = Math.min(deadline, Date.now() + 1_000);
    while (Date.now() < until) {
      const text = await readCgroupFileNow(dir, FREEZER_STATE_FILE).catch(() => 'THAWED');
      if (parseFreezerState(text) !== 'FREEZING') return;
      await delay(POLL_MS);
    }
  }

  async cleanup(containerId: string): Promise<void> {
    checkContainerId(containerId);
    const state = this.containers.get(containerId);
    if (state) state.cleaningUp = true;
    if (await this.exists(containerId)) {
      await this.kill(containerId);
      await Promise.all(this.hierarchies.map((h) => this.removeDir(this.dir(h, containerId))));
    }
    if (state) {
      const cancelled = new IsolatorError('CANCELLED', `container ${containerId} cleaned up`);
      for (const cancel of [...state.cancelWatchers]) cancel(cancelled);
      this.containers.delete(containerId);
    }
    this.logger.debug({ containerId }, 'cgroups removed');
  }

  /** rmdir succeeds once the cgroup is empty; exited tasks may linger until reaped, so retry briefly. */
  private async removeDir(dir: string): Promise<void> {
    const deadline = Date.now() + RMDIR_DEADLINE_MS;
    for (;;) {
      try {
        await rmdir(dir);
        return;
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return;
        if (errnoCode(err) !== 'EBUSY' || Date.now() >= deadline) {
          throw new IsolatorError('CGROUP_REMOVE_FAILED', `cannot remove ${dir}: ${errorMessage(err)}`, {
            cause: err,
            retryable: true,
          });
        }
        await delay(POLL_MS);
      }
    }
  }
}
