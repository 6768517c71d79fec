// The agent daemon: wires resources, isolator, executors, checkpoints, status updates, the task
// manager, recovery, the HTTP API and the master link together. create() recovers checkpointed
// tasks, starts HTTP, then registers (in the background, retrying until the master answers).
// stop() is an agent restart, not a drain: tasks keep running and a new Agent on the same work dir
// recovers them.
import os from 'node:os';
import path from 'node:path';
import {
  LeaderDetector,
  agentAttributesSchema,
  compileValidator,
  createLogger,
  errorMessage,
  isTerminal,
  isZkUrl,
  parseZkUrl,
  randomIds,
  type AgentAttributes,
  type AgentInfo,
  type AgentTaskReport,
  type Logger,
  type Resources,
  type TaskStatus,
} from '../common/index.js';
import { CommandExecutor, DockerExecutor, type Executor, type ExecutorKind } from '../executors/index.js';
import { createIsolator, type Isolator } from '../isolators/index.js';
import { CheckpointStore } from './checkpoint/index.js';
import { AgentError } from './errors.js';
import { createMetrics, startHttpServer, stateView, type AgentState, type RunningServer } from './http/index.js';
import { MasterLink, masterUrl } from './master-link.js';
import { recover } from './recovery.js';
import { detectResources } from './resources.js';
import { parseHostname } from '../common/index.js';
import { StatusUpdateManager } from './status-updates/index.js';
import { TaskManager } from './tasks/index.js';

export interface AgentOptions {
  /** Bind address, default '0.0.0.0'. */
  host?: string;
  /** 5051 in the CLI; 0 in tests. */
  port: number;
  /** Default 127.0.0.1. */
  advertiseIp?: string;
  /** --hostname: what offers and /master/state show; default os.hostname(). */
  hostname?: string;
  /** --attributes "rack:r1;gpus:2" (parseAttributes); sent to the master on every (re-)registration. */
  attributes?: AgentAttributes;
  /** 'host:port' of the master, or `zk://host:2181/tessera` to follow whichever master leads. */
  master: string;
  /** With a zk:// master: the ZooKeeper session timeout (default 10 s). */
  zkSessionTimeoutMs?: number;
  /** Checkpoints in <workDir>/agent/, sandboxes in <workDir>/agent/sandboxes/. */
  workDir: string;
  /** --resources "cpus:4;mem:8192" override. */
  resources?: Partial<Resources>;
  /** --reserved-mem, default 512 (only when mem is detected). */
  reservedMemMb?: number;
  isolation?: 'auto' | 'cgroups' | 'posix';
  /** Default 'tessera'. */
  cgroupsRoot?: string;
  /** auto: enabled when an engine answers. */
  docker?: 'auto' | 'on' | 'off';
  /** Status update (and registration) retry backoff; default 1000 / 30000. */
  statusRetryMinMs?: number;
  statusRetryMaxMs?: number;
  logger?: Logger;
  /** Shows Docker image pulls (the CLI draws a progress bar on a terminal). */
  onPullProgress?: (image: string, progress: { current?: number; total?: number; status: string }) => void;
  // test seams:
  isolator?: Isolator;
  executors?: Partial<Record<ExecutorKind, Executor>>;
}

interface Parts {
  options: AgentOptions;
  logger: Logger;
  advertiseIp: string;
  hostname: string;
  attributes: AgentAttributes;
  resources: Resources;
  isolator: Isolator;
  executors: Partial<Record<ExecutorKind, Executor>>;
  /** The command executor this agent made (not one handed in): stop() closes it (ends its spawner process). */
  ownCommandExecutor: CommandExecutor | undefined;
  store: CheckpointStore;
  statusUpdates: StatusUpdateManager;
  taskManager: TaskManager;
  startedAt: number;
}

export class Agent {
  private server: RunningServer | undefined;
  private link: MasterLink | undefined;
  private detector: LeaderDetector | undefined;
  private stopping: Promise<void> | undefined;

  private constructor(private readonly parts: Parts) {}

  static async create(options: AgentOptions): Promise<Agent> {
    const logger = options.logger ?? createLogger('agent');
    // Checked here too (not only by the CLI): the master's schema would refuse the registration forever.
    const hostname = options.hostname === undefined ? os.hostname() : parseHostname(options.hostname);
    const attributes = validateAttributes(options.attributes ?? {});
    // Fail fast on an unusable master address, or on a ZooKeeper that cannot be reached.
    const zk = isZkUrl(options.master) ? parseZkUrl(options.master) : undefined;
    if (!zk) masterUrl(options.master);
    const detector = zk
      ? await LeaderDetector.create({
          url: zk,
          logger: logger.child({ module: 'leader-detector' }),
          ...(options.zkSessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.zkSessionTimeoutMs }),
        })
      : undefined;
    const store = await CheckpointStore.create({ dir: path.join(options.workDir, 'agent'), logger });
    const resources = await detectResources({ overrides: options.resources, reservedMemMb: options.reservedMemMb, diskPath: store.dir });
    const isolator =
      options.isolator ?? (await createIsolator({ mode: options.isolation ?? 'auto', cgroupsRoot: options.cgroupsRoot ?? 'tessera', logger }));
    const executors = await createExecutors(options, isolator, logger);
    const agentId = await store.loadAgentId();
    const retryMinMs = options.statusRetryMinMs ?? 1000;
    const retryMaxMs = options.statusRetryMaxMs ?? 30_000;

    // The master link exists only after HTTP is up (it needs the port); until then nothing can ask
    // for a re-registration, because updates are held until the first registration.
    let link: MasterLink | undefined;
    const statusUpdates = new StatusUpdateManager({
      store,
      logger: logger.child({ module: 'status-updates' }),
      retryMinMs,
      retryMaxMs,
      onAgentUnknown: () => link?.reregister(),
    });
    const taskManager = new TaskManager({
      store,
      statusUpdates,
      executors,
      logger,
      agentId: () => link?.agentId ?? agentId,
      // COMMAND health checks run inside the task through its executor (execTask).
      health: { executors },
    });
    const agent = new Agent({
      options,
      logger,
      advertiseIp: options.advertiseIp ?? '127.0.0.1',
      hostname,
      attributes,
      resources,
      isolator,
      executors,
      ownCommandExecutor: !options.executors?.command && executors.command instanceof CommandExecutor ? executors.command : undefined,
      store,
      statusUpdates,
      taskManager,
      startedAt: Date.now(),
    });
    try {
      await recover({ store, taskManager, statusUpdates, executors, agentId, logger: logger.child({ module: 'recovery' }) });
      agent.server = await startHttpServer({
        host: options.host ?? '0.0.0.0',
        port: options.port,
        logger,
        taskManager,
        sandboxesDir: store.sandboxesDir,
        metrics: createMetrics(
          { taskStates: () => taskManager.list().map((r) => r.state), registered: () => link?.state === 'registered', startedAt: agent.parts.startedAt },
          { processMetrics: true },
        ),
        state: () => agent.state(),
        registered: () => link?.state === 'registered',
        acknowledge: (taskId, uuid) => statusUpdates.acknowledge(taskId, uuid),
      });
      link = new MasterLink({
        master: options.master,
        ...(detector ? { detector } : {}),
        store,
        statusUpdates,
        logger,
        agentId,
        info: () => agent.info(),
        tasks: () => agent.taskReports(),
        onKill: (taskIds) => {
          for (const taskId of taskIds) {
            taskManager.kill(taskId).catch((err: unknown) => logger.warn({ err, taskId }, 'could not kill a task the master gave up on'));
          }
        },
        retryMinMs,
        retryMaxMs,
      });
      agent.link = link;
      link.start();
    } catch (err) {
      await agent.stop();
      await detector?.close();
      throw err;
    }
    agent.detector = detector;
    agent.parts.ownCommandExecutor?.warmUp();
    logger.info({ url: agent.url, master: link.url, resources, isolation: isolator.name, executors: Object.keys(executors) }, 'agent started');
    return agent;
  }

  /** The id the master gave this agent (checkpointed; undefined before the first registration). */
  get id(): string | undefined {
    return this.link?.agentId;
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  get url(): string {
    return `http://${this.parts.advertiseIp}:${this.port}`;
  }

  /** Resolves with the agent id once registered with the master. */
  registered(): Promise<string> {
    if (!this.link) return Promise.reject(new Error('agent is not running'));
    return this.link.registered();
  }

  /** Resolves once every status update has been acknowledged (by the master, or by its framework when the master forwarded it). */
  statusUpdatesDelivered(): Promise<void> {
    return this.parts.statusUpdates.idle();
  }

  info(): AgentInfo {
    const info: AgentInfo = {
      hostname: this.parts.hostname,
      ip: this.parts.advertiseIp,
      port: this.port,
      resources: this.parts.resources,
      executors: Object.keys(this.parts.executors),
      isolation: this.parts.isolator.name,
    };
    if (Object.keys(this.parts.attributes).length > 0) info.attributes = this.parts.attributes;
    return info;
  }

  state(): AgentState {
    return stateView({
      id: this.id,
      hostname: this.parts.hostname,
      attributes: this.parts.attributes,
      ip: this.parts.advertiseIp,
      port: this.port,
      masterHostname: this.link?.masterHostname,
      registered: this.link?.state === 'registered',
      resources: this.parts.resources,
      isolation: this.parts.isolator.name,
      executors: Object.keys(this.parts.executors),
      startTime: this.parts.startedAt / 1000,
      tasks: this.parts.taskManager.list(),
    });
  }

  /** What (re-)registration reports: every live task, and ended ones whose final update is unacknowledged. */
  private taskReports(): AgentTaskReport[] {
    const reports: AgentTaskReport[] = [];
    for (const record of this.parts.taskManager.list()) {
      if (isTerminal(record.state) && !this.parts.statusUpdates.hasPending(record.task.task_id)) continue;
      const latest: TaskStatus = record.statuses[record.statuses.length - 1] ?? {
        // Launched but nothing reported yet: it is staging.
        task_id: record.task.task_id,
        state: 'TASK_STAGING',
        source: 'SOURCE_AGENT',
        timestamp: Date.now() / 1000,
        uuid: randomIds.uuid(),
      };
      reports.push({ task: record.task, status: latest });
    }
    return reports;
  }

  /** Stops HTTP, timers and the master link; tasks keep running. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      // Tasks first (synchronously stops acting on them), then delivery, the link and HTTP.
      const tasksStopped = this.parts.taskManager.stop();
      this.parts.statusUpdates.stop();
      await this.link?.stop();
      await this.detector?.close().catch((err: unknown) => this.parts.logger.warn({ err }, 'closing the leader detector failed'));
      await this.server?.close();
      await tasksStopped;
      // Its spawner process goes; the tasks it started run on (they are detached).
      await this.parts.ownCommandExecutor?.close().catch((err: unknown) => this.parts.logger.warn({ err }, 'closing the command executor failed'));
      await this.parts.store.close();
      this.parts.logger.info({ agentId: this.id }, 'agent stopped (tasks left running)');
    })();
    return this.stopping;
  }
}

/** Attributes handed in by code rather than parsed from the flag: the same rules as the master's schema. */
const validateAttributes = compileValidator(agentAttributesSchema, 'attributes');

async function createExecutors(options: AgentOptions, isolator: Isolator, logger: Logger): Promise<Partial<Record<ExecutorKind, Executor>>> {
  const injected = options.executors;
  const executors: Partial<Record<ExecutorKind, Executor>> = {};
  executors.command = injected?.command ?? (await CommandExecutor.create({ isolator, logger }));
  const mode = options.docker ?? 'auto';
  if (injected?.docker) {
    executors.docker = injected.docker;
  } else if (mode !== 'off') {
    try {
      executors.docker = await DockerExecutor.create({
        logger,
        cgroupParent: isolator.dockerCgroupParent,
        ...(options.onPullProgress ? { onPullProgress: options.onPullProgress } : {}),
      });
    } catch (err) {
      if (mode === 'on') throw new AgentError('DOCKER_REQUIRED', `--docker on, but the Docker executor cannot start: ${errorMessage(err)}`, { cause: err });
      logger.info({ err: errorMessage(err) }, 'Docker is not available; running command tasks only');
    }
  }
  return executors;
}
