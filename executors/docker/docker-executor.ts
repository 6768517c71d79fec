// Runs tasks as Docker containers (like Nomad's docker driver / Mesos's DockerContainerizer): limits go
// to Docker (which writes the same cgroup files the isolators would), labels let a restarted agent find
// its containers again, and output is copied into the sandbox files.
import { constants as osConstants } from 'node:os';
import { errorMessage, type Logger, type ResourceStatistics } from '../../common/index.js';
import { ExecutorError } from '../errors.js';
import type {
  ExecOptions,
  ExecResult,
  Executor,
  ExitResult,
  RecoveredTask,
  TaskConfig,
  TaskHandle,
  TaskInspection,
} from '../executor.js';
import { cgroupV1Mounts, readContainerCgroupStats, type CgroupV1Mounts } from './cgroup-stats.js';
import { buildContainerSpec, containerName, handleFromLabels, LABELS } from './container-spec.js';
import {
  DockerodeClient,
  engineMessage,
  engineStatus,
  type ContainerDetails,
  type DockerClient,
  type PullProgress,
} from './docker-client.js';
import { attachLogs, resumeSinceSecs, touchLogFiles, type AttachedLogs } from './log-files.js';

export interface DockerExecutorOptions {
  logger: Logger;
  /** HostConfig.CgroupParent for every container (cgroupfs driver), e.g. the isolator's dockerCgroupParent. */
  cgroupParent?: string;
  /** Default /var/run/docker.sock. */
  socketPath?: string;
  onPullProgress?: (image: string, progress: PullProgress) => void;
  /** Deadline for the engine to answer create()'s ping. Default 2000. */
  pingTimeoutMs?: number;
  /** Deadline for one image pull. Default 10 minutes. */
  pullTimeoutMs?: number;
  /** Test seam: another DockerClient (the default talks to the engine through dockerode). */
  client?: DockerClient;
}

const VANISHED: ExitResult = {
  exitCode: null,
  signal: null,
  oomKilled: false,
  message: 'container vanished while the agent was down',
};

/** How long an exit waits for the last output to land in the sandbox files. */
const LOG_FLUSH_MS = 2000;

/** What one inspect tells about a container that does not change while it runs (stats, address). */
interface ContainerMeta {
  fullId: string;
  cgroupParent: string;
  nanoCpus: number;
  /** Its IP on a bridge network; undefined on host networking. */
  ipAddress: string | undefined;
}

function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The engine itself is unreachable (vs. refusing one request). */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES' || code === 'ECONNRESET';
}

export class DockerExecutor implements Executor {
  readonly kind = 'docker' as const;

  /** dockerId → the (memoized) end of that container. */
  private readonly exits = new Map<string, Promise<ExitResult>>();
  /** dockerId → the copy of its output into the sandbox. */
  private readonly logs = new Map<string, AttachedLogs>();
  /** dockerId → the attach of that copy while under way (`logs` has it once it resolves). */
  private readonly attaching = new Map<string, Promise<void>>();
  /** dockerId → signals we sent, to name the one that ended it. */
  private readonly signalsSent = new Map<string, Set<NodeJS.Signals>>();
  private readonly containerMeta = new Map<string, ContainerMeta>();
  /** Images found in the local engine by an earlier launch (see startTask). */
  private readonly localImages = new Set<string>();

  private constructor(
    private readonly client: DockerClient,
    private readonly logger: Logger,
    private readonly mounts: CgroupV1Mounts,
    private readonly options: DockerExecutorOptions,
  ) {}

  static async create(options: DockerExecutorOptions): Promise<DockerExecutor> {
    const socketPath = options.socketPath ?? '/var/run/docker.sock';
    const client = options.client ?? new DockerodeClient({ socketPath });
    try {
      await client.ping(options.pingTimeoutMs ?? 2000);
    } catch (err) {
      throw new ExecutorError(
        'DOCKER_UNAVAILABLE',
        `no Docker engine answers at ${socketPath}: ${errorMessage(err)}`,
        { cause: err, retryable: true },
      );
    }
    const mounts = await cgroupV1Mounts();
    return new DockerExecutor(client, options.logger, mounts, options);
  }

  async startTask(config: TaskConfig): Promise<TaskHandle> {
    const image = config.task.container?.docker?.image;
    if (!image) {
      throw new ExecutorError('LAUNCH_FAILED', `task '${config.task.task_id}' has no container.docker.image`);
    }
    const log = this.logger.child({ taskId: config.task.task_id, containerId: config.containerId });
    const forcePull = config.task.container?.docker?.force_pull_image === true;
    // An image this executor already found locally is not inspected again before each launch (one
    // engine round trip less, as `docker run` does): if it has gone since, the create answers 404
    // and the image is looked for (and pulled) then, as on a first launch.
    const checkImage = forcePull || !this.localImages.has(image);
    const spec = buildContainerSpec(config, image, this.options.cgroupParent);
    const [imageChecked, touched] = await Promise.allSettled([
      checkImage ? this.ensureImage(image, forcePull, log) : Promise.resolve(),
      touchLogFiles(config.sandboxDir),
    ]);
    if (imageChecked.status === 'rejected') throw imageChecked.reason;
    if (touched.status === 'rejected') {
      throw new ExecutorError('LAUNCH_FAILED', `cannot write to sandbox ${config.sandboxDir}: ${errorMessage(touched.reason)}`, {
        cause: touched.reason,
      });
    }
    this.localImages.add(image);
    let dockerId: string;
    try {
      dockerId = await this.client.createContainer(spec);
    } catch (err) {
      if (checkImage || engineStatus(err) !== 404) throw this.engineError('LAUNCH_FAILED', `cannot create container ${spec.name}`, err);
      this.localImages.delete(image);
      await this.ensureImage(image, false, log);
      this.localImages.add(image);
      try {
        dockerId = await this.client.createContainer(spec);
      } catch (again) {
        throw this.engineError('LAUNCH_FAILED', `cannot create container ${spec.name}`, again);
      }
    }
    try {
      await this.client.startContainer(dockerId);
    } catch (err) {
      // A failed setup removes what it made.
      await this.client.removeContainer(dockerId).catch(() => undefined);
      throw this.engineError('LAUNCH_FAILED', `cannot start container ${spec.name}`, err);
    }
    const startedAt = Date.now();
    // Attached after start: the engine replays everything the container wrote so far, so nothing is
    // lost. Not awaited: the engine answers only once a short task has ended, and the launch need not
    // wait for that; everything that reads the copy (exit, destroy, close) waits for the attach first.
    this.attach(dockerId, config.sandboxDir, undefined, log);
    log.info({ dockerId, image }, 'container started');
    return {
      kind: 'docker',
      taskId: config.task.task_id,
      containerId: config.containerId,
      sandboxDir: config.sandboxDir,
      dockerId,
      startedAt,
    };
  }

  waitTask(handle: TaskHandle): Promise<ExitResult> {
    const id = this.dockerRef(handle);
    let exit = this.exits.get(id);
    if (!exit) {
      exit = this.awaitExit(id);
      this.exits.set(id, exit);
      // A failed wait (engine down) may be retried later.
      exit.catch(() => this.exits.delete(id));
    }
    return exit;
  }

  async stopTask(handle: TaskHandle, timeoutMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const id = this.dockerRef(handle);
    await this.sendSignal(id, signal);
    if ((await this.client.waitContainer(id, timeoutMs)) === 'exited') return;
    this.logger.info({ taskId: handle.taskId, dockerId: id, timeoutMs }, `still running after ${signal}: SIGKILL`);
    await this.sendSignal(id, 'SIGKILL');
    await this.client.waitContainer(id);
  }

  async destroyTask(handle: TaskHandle): Promise<void> {
    const id = this.dockerRef(handle);
    await this.attaching.get(id);
    const logs = this.logs.get(id);
    if (logs) {
      logs.close();
      await withDeadline(logs.finished, LOG_FLUSH_MS);
      this.logs.delete(id);
    }
    try {
      await this.client.removeContainer(id);
    } catch (err) {
      throw this.engineError('LAUNCH_FAILED', `cannot remove container ${id}`, err);
    }
    this.exits.delete(id);
    this.signalsSent.delete(id);
    this.containerMeta.delete(id);
  }

  async recoverTask(handle: TaskHandle): Promise<RecoveredTask> {
    const id = this.dockerRef(handle);
    const info = await this.client.inspectContainer(id);
    if (!info) return { running: false, exit: VANISHED };
    // Resume copying output from where the previous agent left off (the newest log file's mtime), so a
    // restart neither floods the files with duplicates nor loses what was written while we were down.
    const since = await resumeSinceSecs(handle.sandboxDir);
    const log = this.logger.child({ taskId: handle.taskId, containerId: handle.containerId });
    await this.attaching.get(id);
    if (!this.logs.has(id)) await this.followOutput(id, handle.sandboxDir, since, log);
    if (info.running) return { running: true };
    // Exited: the stream just replays the tail and ends; let it land before reporting.
    const logs = this.logs.get(id);
    if (logs) await withDeadline(logs.finished, LOG_FLUSH_MS);
    return { running: false, exit: this.exitFrom(id, info, 'exited while the agent was down') };
  }

  async findTasks(agentId: string): Promise<TaskHandle[]> {
    const rows = await this.client.listContainers({ [LABELS.agentId]: agentId });
    const handles: TaskHandle[] = [];
    for (const row of rows) {
      const handle = handleFromLabels(row.id, row.labels, row.created);
      if (handle) handles.push(handle);
    }
    return handles;
  }

  async inspectTask(handle: TaskHandle): Promise<TaskInspection> {
    const id = this.dockerRef(handle);
    const info = await this.client.inspectContainer(id);
    if (!info) return { running: false, exit: VANISHED };
    if (info.running) return { running: true, pid: info.pid };
    return { running: false, exit: this.exitFrom(id, info) };
  }

  async taskStats(handle: TaskHandle): Promise<ResourceStatistics> {
    const id = this.dockerRef(handle);
    let meta = this.containerMeta.get(id);
    let info: ContainerDetails | undefined;
    if (!meta) {
      info = await this.client.inspectContainer(id);
      if (!info) throw new ExecutorError('NOT_RUNNING', `container ${id} of task '${handle.taskId}' does not exist`);
      meta = this.remember(id, info);
    }
    const fromFiles = await readContainerCgroupStats(this.mounts, meta.cgroupParent, meta.fullId);
    if (fromFiles) {
      if (meta.nanoCpus > 0) fromFiles.cpus_limit = meta.nanoCpus / 1e9;
      return fromFiles;
    }
    // No cgroup files where we expect them (other driver, or it has exited): ask the engine.
    info ??= await this.client.inspectContainer(id);
    if (!info) throw new ExecutorError('NOT_RUNNING', `container ${id} of task '${handle.taskId}' does not exist`);
    let s;
    try {
      s = await this.client.statsOnce(id);
    } catch (err) {
      throw this.engineError('NOT_RUNNING', `no statistics for container ${id}`, err);
    }
    const stats: ResourceStatistics = {
      timestamp: Date.now() / 1000,
      cpus_user_time_secs: s.cpuUserNs / 1e9,
      cpus_system_time_secs: s.cpuSystemNs / 1e9,
      cpus_nr_periods: s.throttlingPeriods,
      cpus_nr_throttled: s.throttledPeriods,
      cpus_throttled_time_secs: s.throttledTimeNs / 1e9,
      mem_limit_bytes: info.memory > 0 ? info.memory : s.memLimit,
      mem_total_bytes: s.memUsage,
      mem_max_bytes: s.memMaxUsage,
      mem_rss_bytes: s.memRss,
      mem_oom_kills: info.oomKilled ? 1 : 0,
      processes: s.pids,
    };
    if (info.nanoCpus > 0) stats.cpus_limit = info.nanoCpus / 1e9;
    return stats;
  }

  /** `docker exec` in the task's container, killed at the timeout or on abort. */
  async execTask(handle: TaskHandle, argv: string[], options: ExecOptions): Promise<ExecResult> {
    const id = this.dockerRef(handle);
    if (argv.length === 0) throw new ExecutorError('LAUNCH_FAILED', 'nothing to run: empty argv');
    const env = Object.entries(options.env ?? {}).map(([name, value]) => `${name}=${value}`);
    const signal = AbortSignal.any([options.signal, AbortSignal.timeout(options.timeoutMs)]);
    try {
      const result = await this.client.exec(id, argv, { env, signal });
      return { exitCode: result.exitCode, signal: result.killed ? 'SIGKILL' : null, output: result.output };
    } catch (err) {
      throw this.engineError('NOT_RUNNING', `cannot exec in container ${id} of task '${handle.taskId}'`, err);
    }
  }

  /** The container's IP on its network; undefined on host networking (or when it has none). */
  async taskAddress(handle: TaskHandle): Promise<string | undefined> {
    const id = this.dockerRef(handle);
    // Every HTTP/TCP probe asks: one inspect per container, shared with taskStats.
    const known = this.containerMeta.get(id);
    if (known?.ipAddress !== undefined) return known.ipAddress;
    const info = await this.client.inspectContainer(id);
    return info ? this.remember(id, info).ipAddress : undefined;
  }

  private remember(id: string, info: ContainerDetails): ContainerMeta {
    // An empty CgroupParent means Docker's default for the cgroupfs driver.
    const meta: ContainerMeta = {
      fullId: info.id,
      cgroupParent: info.cgroupParent || '/docker',
      nanoCpus: info.nanoCpus,
      ipAddress: info.ipAddress || undefined,
    };
    this.containerMeta.set(id, meta);
    return meta;
  }

  /**
   * Stop copying output and forget in-memory state; containers keep running (an agent shutdown or
   * restart). A later executor picks them up with findTasks() / recoverTask().
   */
  async close(): Promise<void> {
    await Promise.all(this.attaching.values());
    const attached = [...this.logs.values()];
    this.logs.clear();
    for (const logs of attached) logs.close();
    await withDeadline(Promise.all(attached.map((l) => l.finished)), LOG_FLUSH_MS);
    this.containerMeta.clear();
  }

  // ---------------------------------------------------------------------------------------------

  /** The container to address: its id, else its name (Docker accepts either). */
  private dockerRef(handle: TaskHandle): string {
    if (handle.kind !== 'docker') {
      throw new ExecutorError('NOT_RUNNING', `task '${handle.taskId}' is a ${handle.kind} task, not a docker one`);
    }
    return handle.dockerId ?? containerName(handle.containerId);
  }

  private async ensureImage(image: string, forcePull: boolean, log: Logger): Promise<void> {
    let local;
    try {
      local = await this.client.inspectImage(image);
    } catch (err) {
      throw this.engineError('LAUNCH_FAILED', `cannot inspect image '${image}'`, err);
    }
    if (local && !forcePull) return;
    log.info({ image, forcePull }, 'pulling image');
    const started = Date.now();
    let lastStatus = '';
    try {
      await this.client.pullImage(
        image,
        (progress) => {
          this.options.onPullProgress?.(image, progress);
          if (progress.status !== lastStatus) {
            lastStatus = progress.status;
            log.debug({ image, ...progress }, 'pull progress');
          }
        },
        this.options.pullTimeoutMs ?? 10 * 60_000,
      );
    } catch (err) {
      if (local) {
        // force_pull_image on a host that cannot reach the registry: the local copy still runs the task.
        log.warn({ image, err: engineMessage(err) }, 'forced pull failed; using the local image');
        return;
      }
      if (isConnectionError(err)) throw this.engineError('IMAGE_NOT_FOUND', `cannot pull image '${image}'`, err);
      throw new ExecutorError(
        'IMAGE_NOT_FOUND',
        `image '${image}' is not on this host and could not be pulled: ${engineMessage(err)}`,
        { cause: err },
      );
    }
    log.info({ image, ms: Date.now() - started }, 'image pulled');
  }

  /** followOutput in the background, tracked in `attaching` until it has settled (it never rejects). */
  private attach(id: string, sandboxDir: string, since: number | undefined, log: Logger): void {
    const attached = this.followOutput(id, sandboxDir, since, log).finally(() => {
      if (this.attaching.get(id) === attached) this.attaching.delete(id);
    });
    this.attaching.set(id, attached);
  }

  private async followOutput(id: string, sandboxDir: string, since: number | undefined, log: Logger): Promise<void> {
    try {
      const attached = await attachLogs(this.client, id, sandboxDir, since);
      this.logs.set(id, attached);
      void attached.finished.then(() => {
        if (this.logs.get(id) === attached) this.logs.delete(id);
      });
    } catch (err) {
      // The task runs regardless; only its output copy is missing.
      log.warn({ dockerId: id, err: engineMessage(err) }, 'cannot follow container output');
    }
  }

  private async awaitExit(id: string): Promise<ExitResult> {
    await this.client.waitContainer(id);
    // Report the exit only once its last output is in the sandbox files (the copy ends with the
    // container); the inspect runs meanwhile.
    const [info] = await Promise.all([this.client.inspectContainer(id), this.outputCopied(id)]);
    if (!info) return VANISHED;
    return this.exitFrom(id, info);
  }

  private async outputCopied(id: string): Promise<void> {
    await this.attaching.get(id);
    const logs = this.logs.get(id);
    if (logs) await withDeadline(logs.finished, LOG_FLUSH_MS);
  }

  private exitFrom(id: string, info: ContainerDetails, detail?: string): ExitResult {
    // Decide OOM by State.OOMKilled alone: under `sh` the exit code of an OOM-killed task can be 0.
    const oomKilled = info.oomKilled;
    let signal: string | null = null;
    for (const sent of this.signalsSent.get(id) ?? []) {
      if (info.exitCode === 128 + osConstants.signals[sent]) signal = sent;
    }
    const messages: string[] = [];
    if (oomKilled) messages.push('memory limit exceeded: the kernel OOM-killed the task');
    if (info.error) messages.push(info.error);
    if (detail) messages.push(detail);
    return {
      exitCode: info.exitCode,
      signal,
      oomKilled,
      ...(messages.length > 0 ? { message: messages.join('; ') } : {}),
    };
  }

  private async sendSignal(id: string, signal: NodeJS.Signals): Promise<void> {
    let sent = this.signalsSent.get(id);
    if (!sent) this.signalsSent.set(id, (sent = new Set()));
    sent.add(signal);
    try {
      await this.client.killContainer(id, signal);
    } catch (err) {
      throw this.engineError('NOT_RUNNING', `cannot send ${signal} to container ${id}`, err);
    }
  }

  private engineError(code: 'LAUNCH_FAILED' | 'NOT_RUNNING' | 'IMAGE_NOT_FOUND', what: string, err: unknown): ExecutorError {
    if (isConnectionError(err)) {
      return new ExecutorError('DOCKER_UNAVAILABLE', `${what}: the Docker engine is unreachable (${errorMessage(err)})`, {
        cause: err,
        retryable: true,
      });
    }
    const status = engineStatus(err);
    return new ExecutorError(code, `${what}: ${engineMessage(err)}`, {
      cause: err,
      // The engine's own 5xx may be transient; a 4xx (bad spec, missing thing) is not.
      retryable: status !== undefined && status >= 500,
    });
  }
}
