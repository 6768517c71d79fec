// The cgroups v2 isolator: one cgroup per container at <mount>/<own cgroup>/<cgroupsRoot>/<containerId>
// with the cpu, memory and pids controllers (modelled on Mesos's cgroups2 isolator).
import { mkdir, readdir, rmdir, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { Logger, ResourceStatistics } from '../../common/index.js';
import { errorMessage } from '../../common/index.js';
import { errnoCode, parseFlatKeyed, pathExists, readCgroupFile, writeCgroupFiles } from '../cgroup-files.js';
import { IsolatorError } from '../errors.js';
import { settledFailures } from '../settled-failures.js';
import type { ContainerLimits, Isolator, Limitation } from '../isolator.js';
import type { ControllerWrite } from './controller.js';
import { CONTROLLERS, CONTROLLER_NAMES } from './controllers.js';
import {
  cgroupsRootSegments,
  findCgroup2Mount,
  ownV2Path,
  pathBelowMount,
  prepareTree,
  readProcSelfCgroup,
} from './hierarchy.js';
import { killCgroup, pidsInTree } from './kill-cgroup.js';
import { parseSingleValue, parseUsage, USAGE_FILES, type UsageFiles } from './usage.js';
import { waitUntil } from '../wait-until.js';

export interface Cgroups2IsolatorOptions {
  /** A name or relative path beneath this process's own cgroup, e.g. 'tessera'. */
  cgroupsRoot: string;
  logger: Logger;
  /** Where cgroup2 is mounted; default: found in /proc/self/mountinfo. */
  mountPoint?: string;
  /** The text of /proc/self/cgroup or a path to read it from (tests); default /proc/self/cgroup. */
  procSelfCgroup?: string;
}

const CONTAINER_ID = /^[A-Za-z0-9_][A-Za-z0-9_.@:-]*$/;
const WATCH_INTERVAL_MS = 200;
const KILL_TIMEOUT_MS = 10_000;
const RMDIR_TIMEOUT_MS = 2_000;

interface Watcher {
  reject(err: IsolatorError): void;
}

export class Cgroups2Isolator implements Isolator {
  readonly name = 'cgroups-v2' as const;
  readonly enforcing = true;
  /** OOM-kill counts seen when this isolator made each cgroup: watch() reports a rise above them. */
  private readonly oomBaselines = new Map<string, number>();
  private readonly watchers = new Map<string, Set<Watcher>>();
  /**
   * Optional files (memory.swap.max, memory.oom.group) found in a container's cgroup. Whether the
   * kernel offers one is the same for every container, so a file seen once is not looked up again on
   * each launch; one not seen is looked up again (it costs only the check).
   */
  private readonly optionalFilesSeen = new Set<string>();

  private constructor(
    /** The directory that holds one cgroup per container. */
    readonly rootDir: string,
    readonly dockerCgroupParent: string,
    private readonly logger: Logger,
  ) {}

  static async create(options: Cgroups2IsolatorOptions): Promise<Cgroups2Isolator> {
    const segments = cgroupsRootSegments(options.cgroupsRoot);
    const mount = options.mountPoint
      ? { mountPoint: options.mountPoint, root: '/' }
      : await findCgroup2Mount();
    if (!mount) throw new IsolatorError('NO_CGROUPS', 'no cgroup2 file system is mounted');

    let procText: string;
    try {
      procText = await readProcSelfCgroup(options.procSelfCgroup);
    } catch (err) {
      throw new IsolatorError('NO_CGROUPS', `cannot read /proc/self/cgroup: ${errorMessage(err)}`, { cause: err });
    }
    const v2Path = ownV2Path(procText);
    if (v2Path === undefined) throw new IsolatorError('NO_CGROUPS', "this process has no cgroup v2 ('0::') entry");
    const ownPath = pathBelowMount(v2Path, mount.root);

    const rootDir = await prepareTree({
      mountPoint: mount.mountPoint,
      ownPath,
      segments,
      controllers: CONTROLLER_NAMES,
      logger: options.logger,
    });
    // Docker's cgroupfs driver takes a path relative to the mount; runc enables controllers below it.
    const dockerCgroupParent = posix.join('/', ownPath, ...segments, 'docker');
    options.logger.info({ rootDir, dockerCgroupParent }, 'cgroups v2 isolator ready');
    return new Cgroups2Isolator(rootDir, dockerCgroupParent, options.logger);
  }

  /** The container's cgroup directory (it may not exist). */
  containerCgroupDir(containerId: string): string {
    if (!CONTAINER_ID.test(containerId) || containerId.endsWith('.agent') || containerId === 'docker') {
      throw new IsolatorError('CGROUP_SETUP_FAILED', `invalid container id '${containerId}'`);
    }
    return join(this.rootDir, containerId);
  }

  async prepare(containerId: string, limits: ContainerLimits): Promise<void> {
    const dir = this.containerCgroupDir(containerId);
    let made = false;
    try {
      await mkdir(dir);
      made = true;
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') {
        throw new IsolatorError('CGROUP_SETUP_FAILED', `creating ${dir}: ${errorMessage(err)}`, { cause: err });
      }
    }
    try {
      await this.applyLimits(containerId, dir, limits);
      // A cgroup made just now has had no OOM kill; only a reused one needs its counter read.
      this.oomBaselines.set(containerId, made ? 0 : await this.readOomKills(dir).catch(() => 0));
    } catch (err) {
      if (made) await rmdir(dir).catch((e: unknown) => this.logger.warn({ dir, err: e }, 'removing a failed cgroup'));
      throw err;
    }
  }

  async isolate(containerId: string, pid: number): Promise<void> {
    const dir = await this.existingDir(containerId);
    try {
      await writeFile(join(dir, 'cgroup.procs'), String(pid));
    } catch (err) {
      throw new IsolatorError('CGROUP_SETUP_FAILED', `moving pid ${pid} into ${dir}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
  }

  async update(containerId: string, limits: ContainerLimits): Promise<void> {
    await this.applyLimits(containerId, await this.existingDir(containerId), limits);
  }

  async usage(containerId: string): Promise<ResourceStatistics> {
    const dir = await this.existingDir(containerId);
    const texts = await Promise.allSettled(USAGE_FILES.map((file) => readCgroupFile(dir, file)));
    const files: UsageFiles = {};
    USAGE_FILES.forEach((file, i) => {
      const result = texts[i];
      if (result?.status === 'fulfilled') files[file] = result.value;
    });
    return parseUsage(files, Date.now() / 1000);
  }

  async watch(containerId: string): Promise<Limitation> {
    const dir = await this.existingDir(containerId);
    const baseline = this.oomBaselines.get(containerId) ?? (await this.readOomKills(dir).catch(() => 0));
    return new Promise<Limitation>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const watcher: Watcher = {
        reject: (err) => {
          if (timer) clearTimeout(timer);
          this.watchers.get(containerId)?.delete(watcher);
          reject(err);
        },
      };
      let set = this.watchers.get(containerId);
      if (!set) this.watchers.set(containerId, (set = new Set()));
      set.add(watcher);

      const poll = async (): Promise<void> => {
        timer = undefined;
        let kills: number;
        try {
          kills = await this.readOomKills(dir);
        } catch (err) {
          // The cgroup went away under us (cleanup, or someone else): nothing left to watch.
          watcher.reject(
            new IsolatorError('CANCELLED', `watch of ${containerId} ended: ${errorMessage(err)}`, { cause: err }),
          );
          return;
        }
        if (!this.watchers.get(containerId)?.has(watcher)) return;
        if (kills > baseline) {
          this.watchers.get(containerId)?.delete(watcher);
          resolve(await this.limitation(containerId, dir, kills - baseline));
          return;
        }
        timer = setTimeout(() => void poll(), WATCH_INTERVAL_MS);
        // A watch alone must not keep the process alive.
        timer.unref();
      };
      void poll();
    });
  }

  async processes(containerId: string): Promise<number[]> {
    return pidsInTree(this.containerCgroupDir(containerId));
  }

  async exists(containerId: string): Promise<boolean> {
    return pathExists(this.containerCgroupDir(containerId));
  }

  async kill(containerId: string): Promise<void> {
    const dir = this.containerCgroupDir(containerId);
    if (!(await pathExists(dir))) return;
    let emptied: boolean;
    try {
      emptied = await killCgroup(dir, KILL_TIMEOUT_MS);
    } catch (err) {
      if (!(await pathExists(dir))) return;
      throw new IsolatorError('KILL_FAILED', `killing the processes of ${dir}: ${errorMessage(err)}`, { cause: err });
    }
    if (!emptied) {
      const left = await pidsInTree(dir).catch(() => []);
      throw new IsolatorError('KILL_FAILED', `processes survived SIGKILL in ${dir}: ${left.join(', ')}`, {
        retryable: true,
      });
    }
  }

  async cleanup(containerId: string): Promise<void> {
    const dir = this.containerCgroupDir(containerId);
    try {
      await this.kill(containerId);
      await removeCgroupTree(dir);
    } finally {
      this.oomBaselines.delete(containerId);
    }
    for (const watcher of [...(this.watchers.get(containerId) ?? [])]) {
      watcher.reject(new IsolatorError('CANCELLED', `container ${containerId} was cleaned up`));
    }
    this.watchers.delete(containerId);
  }

  /** Writes every controller's files; reports every failing controller by name (Mesos style). */
  private async applyLimits(containerId: string, dir: string, limits: ContainerLimits): Promise<void> {
    const results = await Promise.allSettled(
      CONTROLLERS.map(async (controller) => {
        const writes = await this.presentWrites(dir, controller.writes(limits));
        await writeCgroupFiles(dir, writes);
      }),
    );
    const { messages } = settledFailures(results, CONTROLLER_NAMES);
    if (messages.length > 0) {
      throw new IsolatorError('CGROUP_SETUP_FAILED', `limits of container ${containerId}: ${messages.join('; ')}`);
    }
  }

  private async existingDir(containerId: string): Promise<string> {
    const dir = this.containerCgroupDir(containerId);
    if (!(await pathExists(dir))) throw new IsolatorError('NOT_FOUND', `no cgroup for container '${containerId}'`);
    return dir;
  }

  async oomKills(containerId: string): Promise<number | undefined> {
    const dir = this.containerCgroupDir(containerId);
    try {
      return await this.readOomKills(dir);
    } catch (err) {
      // Every task exit asks: the read alone answers for a live cgroup, so existence is checked only
      // to tell a missing container from a failed read.
      if (!(await pathExists(dir))) {
        throw new IsolatorError('NOT_FOUND', `no cgroup for container '${containerId}'`, { cause: err });
      }
      throw err;
    }
  }

  /** Drops optional writes whose file this kernel does not offer. */
  private async presentWrites(dir: string, writes: readonly ControllerWrite[]): Promise<ControllerWrite[]> {
    const present = await Promise.all(
      writes.map(async (w) => {
        if (!w.optional || this.optionalFilesSeen.has(w.file)) return true;
        const found = await pathExists(join(dir, w.file));
        if (found) this.optionalFilesSeen.add(w.file);
        return found;
      }),
    );
    return writes.filter((_, i) => present[i]);
  }

  private async readOomKills(dir: string): Promise<number> {
    return parseFlatKeyed(await readCgroupFile(dir, 'memory.events')).get('oom_kill') ?? 0;
  }

  private async limitation(containerId: string, dir: string, kills: number): Promise<Limitation> {
    const read = (file: string): Promise<number | undefined> =>
      readCgroupFile(dir, file).then(parseSingleValue, () => undefined);
    const [limit, peak] = await Promise.all([read('memory.max'), read('memory.peak')]);
    const mb = (bytes: number | undefined): string => (bytes === undefined ? '?' : `${(bytes / 2 ** 20).toFixed(1)} MB`);
    return {
      resource: 'mem',
      reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
      message:
        `Memory limit exceeded: the OOM killer killed ${kills} process(es) of container ${containerId} ` +
        `(limit ${mb(limit)}, peak ${mb(peak)})`,
    };
  }
}

/** rmdir, children first; a cgroup that was only just emptied can answer EBUSY for a moment. */
async function removeCgroupTree(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return;
    throw new IsolatorError('CGROUP_REMOVE_FAILED', `reading ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  for (const entry of entries) if (entry.isDirectory()) await removeCgroupTree(join(dir, entry.name));
  let lastError: unknown;
  const removed = await waitUntil(
    async () => {
      try {
        await rmdir(dir);
        return true;
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') return true;
        if (errnoCode(err) !== 'EBUSY') throw err;
        lastError = err;
        return false;
      }
    },
    { timeoutMs: RMDIR_TIMEOUT_MS, intervalMs: 50 },
  ).catch((err: unknown) => {
    lastError = err;
    return false;
  });
  if (!removed) {
    throw new IsolatorError('CGROUP_REMOVE_FAILED', `removing ${dir}: ${errorMessage(lastError)}`, {
      cause: lastError,
      retryable: true,
    });
  }
}
