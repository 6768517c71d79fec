// The narrow port the Docker executor owns: just the engine calls it uses, in its own types, so the
// executor's logic never touches dockerode directly (and a unit test could fake this one interface).
import Docker from 'dockerode';
import { PassThrough, type Writable } from 'node:stream';
import { EXEC_OUTPUT_MAX } from '../executor.js';

export interface PullProgress {
  current?: number;
  total?: number;
  status: string;
}

export interface ImageDetails {
  id: string;
  /** The image's default command (CMD). */
  cmd: string[] | undefined;
}

export interface ContainerSpec {
  name: string;
  image: string;
  /** Undefined: the image's default CMD. */
  cmd: string[] | undefined;
  env: string[];
  labels: Record<string, string>;
  /** Docker's ExposedPorts ("31000/tcp": {}); set with hostConfig.PortBindings on a bridge network. */
  exposedPorts?: Record<string, Record<string, never>>;
  hostConfig: {
    Memory: number;
    MemorySwap: number;
    NanoCpus: number;
    CpuShares: number;
    PidsLimit?: number;
    CgroupParent?: string;
    NetworkMode: string;
    Binds: string[];
    PortBindings?: Record<string, Array<{ HostIp: string; HostPort: string }>>;
  };
}

export interface ContainerDetails {
  id: string;
  labels: Record<string, string>;
  running: boolean;
  /** 'created' | 'running' | 'exited' | … as Docker says. */
  status: string;
  exitCode: number;
  oomKilled: boolean;
  pid: number;
  error: string;
  /** Milliseconds since the epoch; undefined if never started. */
  startedAt: number | undefined;
  nanoCpus: number;
  memory: number;
  cgroupParent: string;
  /** The container's IP on its (first) network; undefined on host networking or when it has none. */
  ipAddress?: string;
}

export interface ContainerExecResult {
  /** null when the exec was cut off (abort) or the engine did not say. */
  exitCode: number | null;
  /** The exec's process was SIGKILLed on abort. */
  killed: boolean;
  /** The tail of stdout and stderr together. */
  output: string;
}

export interface ContainerSummary {
  id: string;
  labels: Record<string, string>;
  /** Milliseconds since the epoch. */
  created: number;
  state: string;
}

/** The subset of Docker's (cgroups v1 shaped) one-shot stats the executor reads. */
export interface ContainerStatsSnapshot {
  cpuTotalNs: number;
  cpuUserNs: number;
  cpuSystemNs: number;
  throttlingPeriods: number;
  throttledPeriods: number;
  throttledTimeNs: number;
  memUsage: number;
  memMaxUsage: number;
  memLimit: number;
  memRss: number;
  pids: number;
}

export interface LogFollower {
  /** Resolves when the engine ends the stream (the container stopped) or close() was called. */
  readonly done: Promise<void>;
  close(): void;
}

export interface DockerClient {
  /** Rejects if the engine does not answer within `timeoutMs`. */
  ping(timeoutMs: number): Promise<void>;
  /** Undefined when the engine does not have the image. */
  inspectImage(image: string): Promise<ImageDetails | undefined>;
  /** Rejects when the pull fails (also when the stream reports an error). */
  pullImage(image: string, onProgress: (progress: PullProgress) => void, timeoutMs: number): Promise<void>;
  /** Returns the new container's id. */
  createContainer(spec: ContainerSpec): Promise<string>;
  startContainer(id: string): Promise<void>;
  /** Resolves once the container is not running (immediately if it is not). */
  waitContainer(id: string, timeoutMs?: number): Promise<'exited' | 'timeout'>;
  /** Undefined when the container does not exist. */
  inspectContainer(id: string): Promise<ContainerDetails | undefined>;
  /** No-op when the container is not running or gone. */
  killContainer(id: string, signal: string): Promise<void>;
  /** force: kill it first. No-op when already gone. */
  removeContainer(id: string): Promise<void>;
  /** All containers (running or not) carrying every `key=value` label given. */
  listContainers(labels: Record<string, string>): Promise<ContainerSummary[]>;
  /** Follows the container's demultiplexed stdout/stderr into the given streams (not ended here). */
  followLogs(id: string, out: { stdout: Writable; stderr: Writable; sinceSecs?: number }): Promise<LogFollower>;
  statsOnce(id: string): Promise<ContainerStatsSnapshot>;
  /** `docker exec` of argv in the running container; on abort its process is SIGKILLed and this resolves. */
  exec(id: string, argv: string[], options: { env: string[]; signal: AbortSignal }): Promise<ContainerExecResult>;
}

/** HTTP status of a failed engine call, if it got that far. */
export function engineStatus(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err) {
    const code = (err as { statusCode: unknown }).statusCode;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

/** The engine's own explanation (its JSON `message`), else the error's message. */
export function engineMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'json' in err) {
    const json = (err as { json: unknown }).json;
    if (typeof json === 'object' && json !== null && 'message' in json) {
      return String((json as { message: unknown }).message);
    }
  }
  return err instanceof Error ? err.message : String(err);
}

function parseTime(value: string | undefined): number | undefined {
  if (!value || value.startsWith('0001-01-01')) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The DockerClient over dockerode (Unix socket). */
export class DockerodeClient implements DockerClient {
  private readonly docker: Docker;

  constructor(options: { socketPath?: string } = {}) {
    this.docker = new Docker({ socketPath: options.socketPath ?? '/var/run/docker.sock' });
  }

  async ping(timeoutMs: number): Promise<void> {
    // The typings omit ping's options; dockerode 5 honours abortSignal there like everywhere else.
    const ping = this.docker.ping.bind(this.docker) as unknown as (opts: { abortSignal: AbortSignal }) => Promise<unknown>;
    await ping({ abortSignal: AbortSignal.timeout(timeoutMs) });
  }

  async inspectImage(image: string): Promise<ImageDetails | undefined> {
    try {
      const info = await this.docker.getImage(image).inspect();
      const cmd = info.Config?.Cmd as string[] | null | undefined;
      return { id: info.Id, cmd: cmd ?? undefined };
    } catch (err) {
      if (engineStatus(err) === 404) return undefined;
      throw err;
    }
  }

  async pullImage(image: string, onProgress: (progress: PullProgress) => void, timeoutMs: number): Promise<void> {
    const abort = AbortSignal.timeout(timeoutMs);
    const stream = (await this.docker.pull(image, { abortSignal: abort })) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      let streamError: string | undefined;
      this.docker.modem.followProgress(
        stream,
        (err: Error | null) => {
          if (err) reject(err);
          else if (streamError !== undefined) reject(new Error(streamError));
          else resolve();
        },
        (event: PullEvent) => {
          // The engine reports a failed pull in-band, with a 200 status.
          if (event.error !== undefined) {
            streamError = event.errorDetail?.message ?? event.error;
            return;
          }
          onProgress({
            status: [event.id, event.status].filter(Boolean).join(': '),
            current: event.progressDetail?.current,
            total: event.progressDetail?.total,
          });
        },
      );
    });
  }

  async createContainer(spec: ContainerSpec): Promise<string> {
    const container = await this.docker.createContainer({
      name: spec.name,
      Image: spec.image,
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      Env: spec.env,
      Labels: spec.labels,
      ...(spec.exposedPorts ? { ExposedPorts: spec.exposedPorts } : {}),
      HostConfig: spec.hostConfig,
    });
    return container.id;
  }

  async startContainer(id: string): Promise<void> {
    await this.docker.getContainer(id).start();
  }

  async waitContainer(id: string, timeoutMs?: number): Promise<'exited' | 'timeout'> {
    const abort = timeoutMs === undefined ? undefined : AbortSignal.timeout(Math.max(1, timeoutMs));
    try {
      await this.docker.getContainer(id).wait({ condition: 'not-running', ...(abort ? { abortSignal: abort } : {}) });
      return 'exited';
    } catch (err) {
      if (abort?.aborted) return 'timeout';
      // Gone already: certainly not running.
      if (engineStatus(err) === 404) return 'exited';
      throw err;
    }
  }

  async inspectContainer(id: string): Promise<ContainerDetails | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.docker.getContainer(id).inspect();
    } catch (err) {
      if (engineStatus(err) === 404) return undefined;
      throw err;
    }
    return {
      id: info.Id,
      labels: info.Config.Labels ?? {},
      running: info.State.Running,
      status: info.State.Status,
      exitCode: info.State.ExitCode,
      oomKilled: info.State.OOMKilled,
      pid: info.State.Pid,
      error: info.State.Error ?? '',
      startedAt: parseTime(info.State.StartedAt),
      nanoCpus: info.HostConfig.NanoCpus ?? 0,
      memory: info.HostConfig.Memory ?? 0,
      cgroupParent: info.HostConfig.CgroupParent ?? '',
      ...ipAddressOf(info.NetworkSettings),
    };
  }

  async killContainer(id: string, signal: string): Promise<void> {
    try {
      await this.docker.getContainer(id).kill({ signal });
    } catch (err) {
      // 409: not running; 404: gone. Either way there is nothing to signal.
      const status = engineStatus(err);
      if (status === 409 || status === 404) return;
      throw err;
    }
  }

  async removeContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      const status = engineStatus(err);
      // 404: gone; 409 "removal already in progress": someone else is removing it.
      if (status === 404 || (status === 409 && /already in progress/i.test(engineMessage(err)))) return;
      throw err;
    }
  }

  async listContainers(labels: Record<string, string>): Promise<ContainerSummary[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const rows = await this.docker.listContainers({ all: true, filters: JSON.stringify(filters) });
    return rows.map((row) => ({ id: row.Id, labels: row.Labels ?? {}, created: row.Created * 1000, state: row.State }));
  }

  async followLogs(
    id: string,
    out: { stdout: Writable; stderr: Writable; sinceSecs?: number },
  ): Promise<LogFollower> {
    const stream = (await this.docker.getContainer(id).logs({
      follow: true,
      stdout: true,
      stderr: true,
      ...(out.sinceSecs !== undefined ? { since: out.sinceSecs } : {}),
    })) as NodeJS.ReadableStream & { destroy?: () => void };
    this.docker.modem.demuxStream(stream, out.stdout, out.stderr);
    const done = new Promise<void>((resolve) => {
      stream.once('end', () => resolve());
      stream.once('close', () => resolve());
      stream.once('error', () => resolve());
    });
    return { done, close: () => stream.destroy?.() };
  }

  async statsOnce(id: string): Promise<ContainerStatsSnapshot> {
    const s = await this.docker.getContainer(id).stats({ stream: false, 'one-shot': true });
    const cpu = s.cpu_stats;
    const memStats = (s.memory_stats.stats ?? {}) as Partial<Record<string, number>>;
    return {
      cpuTotalNs: cpu.cpu_usage.total_usage ?? 0,
      cpuUserNs: cpu.cpu_usage.usage_in_usermode ?? 0,
      cpuSystemNs: cpu.cpu_usage.usage_in_kernelmode ?? 0,
      throttlingPeriods: cpu.throttling_data?.periods ?? 0,
      throttledPeriods: cpu.throttling_data?.throttled_periods ?? 0,
      throttledTimeNs: cpu.throttling_data?.throttled_time ?? 0,
      memUsage: s.memory_stats.usage ?? 0,
      memMaxUsage: s.memory_stats.max_usage ?? 0,
      memLimit: s.memory_stats.limit ?? 0,
      memRss: memStats.total_rss ?? memStats.rss ?? memStats.anon ?? 0,
      pids: s.pids_stats?.current ?? 0,
    };
  }

  async exec(id: string, argv: string[], options: { env: string[]; signal: AbortSignal }): Promise<ContainerExecResult> {
    const exec = await this.docker.getContainer(id).exec({
      Cmd: argv,
      AttachStdout: true,
      AttachStderr: true,
      ...(options.env.length > 0 ? { Env: options.env } : {}),
    });
    const stream = await exec.start({ hijack: true, stdin: false });
    let output = '';
    const sink = new PassThrough();
    sink.on('data', (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-EXEC_OUTPUT_MAX);
    });
    this.docker.modem.demuxStream(stream, sink, sink);
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    const { signal } = options;
    const onAbort = (resolve: () => void): void => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    };
    await Promise.race([ended, new Promise<void>(onAbort)]);
    if (signal.aborted) {
      // Docker has no "kill exec": the exec's process is a process on this host, with a host pid.
      const info = await exec.inspect().catch(() => undefined);
      if (info?.Running && info.Pid > 0) {
        try {
          process.kill(info.Pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      stream.destroy();
      return { exitCode: null, killed: true, output };
    }
    const info = await exec.inspect();
    return { exitCode: typeof info.ExitCode === 'number' ? info.ExitCode : null, killed: false, output };
  }
}

function ipAddressOf(settings: unknown): { ipAddress?: string } {
  const s = (settings ?? {}) as { IPAddress?: string; Networks?: Record<string, { IPAddress?: string }> };
  if (s.IPAddress) return { ipAddress: s.IPAddress };
  for (const network of Object.values(s.Networks ?? {})) if (network.IPAddress) return { ipAddress: network.IPAddress };
  return {};
}

interface PullEvent {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}
