// A master process: the HTTP server, and who leads. Standalone (no ZooKeeper) it leads from the start
// with its registry on local disk. With ZooKeeper it contends for leadership; while it leads, a Leader
// (made from the registry in ZooKeeper) does the work; otherwise it redirects API calls to the leader
// (307) or answers 503 while none is known.
import { createServer, type Server } from 'node:http';
import { hostname as osHostname } from 'node:os';
import {
  LeaderDetector,
  TesseraError,
  closeHttpServer,
  createLogger,
  epochSeconds,
  errorMessage,
  leaderAddress,
  listenHttp,
  masterInfoFor,
  serializeMasterInfo,
  LeaderContender,
  backoffDelay,
  type ElectionEvent,
  randomIds,
  systemClock,
  type Clock,
  type HeartbeatResponse,
  type IdSource,
  type Logger,
  type MasterInfo,
  type RegisterResponse,
  type StatusUpdateBatchResponse,
  type StatusUpdateResponse,
  type TaskState,
  type TaskView,
  type TimerHandle,
  type ZkUrl,
} from '../common/index.js';
import { HttpAgentClient, type AgentClient } from './agents/index.js';
import { MasterStartError } from './errors.js';
import { MASTER_VERSION } from './framework.js';
import { createApp, type MasterApi, type Routing } from './http/index.js';
import { Leader } from './leader.js';
import { MasterMetrics, SNAPSHOT_KEYS, type MetricsSnapshot } from './metrics.js';
import { buildFollowerState, type FollowerState, type MasterIdentity, type MasterState } from './operator-state.js';
import { FileRegistry, ZkRegistry, type Registry } from './registry/index.js';
import { SchedulerService, basicAuthenticator } from './frameworks/index.js';
import type { SchedulerApi } from './scheduler/index.js';

export interface MasterZkOptions {
  url: ZkUrl;
  /** --zk-session-timeout; default 10000. */
  sessionTimeoutMs?: number;
  /** How long start-up waits for ZooKeeper before it fails; default 10000. */
  connectTimeoutMs?: number;
}

export interface MasterOptions {
  /** Bind address, default '0.0.0.0'. */
  host?: string;
  /** 5050 in the CLI; 0 in tests. */
  port: number;
  /** Default: 127.0.0.1 when host is 0.0.0.0 (or ::), else host. */
  advertiseIp?: string;
  /** --hostname: what MasterInfo and /master/state show; default os.hostname(). */
  hostname?: string;
  /** Standalone: the registry lives in <workDir>/master/. */
  workDir: string;
  /** With ZooKeeper: contend for leadership, registry under the URL's path. Without: standalone. */
  zk?: MasterZkOptions;
  /** --agent-timeout; default 30000. */
  agentTimeoutMs?: number;
  /** --agent-reregister-timeout: how long agents from the registry have to come back; default 10 min. */
  agentReregisterTimeoutMs?: number;
  /** Told to agents on registration; default 5000. */
  heartbeatIntervalMs?: number;
  /** Hears every change of this master's role, in words (the CLI prints them). */
  onRoleChange?: (message: string) => void;
  logger?: Logger;
  clock?: Clock;
  ids?: IdSource;
  /** Test seams. */
  registry?: Registry;
  agentClient?: AgentClient;
  /** How many terminal tasks /master/state and the task API keep; default 1000. */
  completedTasksLimit?: number;
  /** --roles: frameworks may only subscribe with these roles ('*' always allowed). */
  roles?: readonly string[];
  /** --weights: DRF role weights. */
  roleWeights?: Record<string, number>;
  /** --credentials: framework principals and secrets; when given, scheduler calls need HTTP Basic auth. */
  credentials?: ReadonlyMap<string, string>;
  /** --offer-timeout; default 60000. */
  offerTimeoutMs?: number;
  /** --allocation-interval; default 1000. */
  allocationIntervalMs?: number;
  /** HEARTBEAT events on scheduler streams; default 15000 (Mesos). */
  frameworkHeartbeatIntervalMs?: number;
}

/** standalone: leads for good; follower: another master leads (or none); electing: elected, loading the registry. */
export type MasterRole = 'standalone' | 'follower' | 'electing' | 'leading' | 'suspended';

const DEFAULT_REREGISTER_TIMEOUT_MS = 10 * 60_000;
/** How long a call to a master that is taking over waits for it, rather than bouncing off a 503. */
const ELECTING_WAIT_MS = 5_000;

export class Master implements MasterApi {
  readonly port: number;
  readonly url: string;
  readonly id: string;

  private roleValue: MasterRole;
  private leader: Leader | undefined;
  /** Bumped whenever a term starts or ends, so a registry load that finishes late is dropped. */
  private term = 0;
  private stopped = false;
  private contender: LeaderContender | undefined;
  private detector: LeaderDetector | undefined;
  private loadTimer: TimerHandle | undefined;
  private readonly metrics: MasterMetrics;
  private readonly identity: MasterIdentity;
  readonly scheduler: SchedulerApi;
  readonly authenticate: ((authorization: string | undefined) => string | undefined) | undefined;
  readonly frameworkHeartbeatIntervalMs: number;
  /** Calls waiting for the role to leave 'electing'. */
  private readonly roleWaiters = new Set<() => void>();

  private constructor(
    private readonly server: Server,
    private readonly options: MasterOptions,
    private readonly logger: Logger,
    private readonly clock: Clock,
    private readonly ids: IdSource,
    private readonly client: AgentClient,
    port: number,
    advertiseIp: string,
  ) {
    this.port = port;
    const ip = advertiseIp.includes(':') ? `[${advertiseIp}]` : advertiseIp;
    this.url = `http://${ip}:${port}`;
    this.id = ids.uuid();
    this.identity = { id: this.id, hostname: options.hostname ?? osHostname(), ip: advertiseIp, port, startTime: epochSeconds(clock) };
    this.roleValue = options.zk ? 'follower' : 'standalone';
    this.metrics = new MasterMetrics(() => this.metricsSnapshot());
    this.frameworkHeartbeatIntervalMs = options.frameworkHeartbeatIntervalMs ?? 15_000;
    this.scheduler = new SchedulerService({
      leader: () => this.requireLeader(),
      masterInfo: masterInfoFor({ id: this.id, hostname: this.identity.hostname, ip: advertiseIp, port, version: MASTER_VERSION }),
      heartbeatIntervalSeconds: this.frameworkHeartbeatIntervalMs / 1000,
      ...(options.roles ? { allowedRoles: new Set(options.roles) } : {}),
    });
    this.authenticate = options.credentials ? basicAuthenticator(options.credentials) : undefined;
  }

  static async create(options: MasterOptions): Promise<Master> {
    const host = options.host ?? '0.0.0.0';
    const advertiseIp = options.advertiseIp ?? (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
    const logger = options.logger ?? createLogger('master');
    const clock = options.clock ?? systemClock;
    const ids = options.ids ?? randomIds;
    const server = createServer();
    const port = await listen(server, options.port, host);
    const master = new Master(server, options, logger, clock, ids, options.agentClient ?? new HttpAgentClient(), port, advertiseIp);
    // Answering from the start: until it leads, calls are redirected or get 503 (see routing()).
    server.on('request', createApp(master, logger).callback());
    try {
      if (options.zk) await master.joinElection(options.zk);
      else master.leader = await master.newLeader(options.registry ?? (await FileRegistry.create({ workDir: options.workDir })));
    } catch (err) {
      await master.stop();
      throw err;
    }
    logger.info({ master_id: master.id, url: master.url, role: master.roleValue }, 'master started');
    return master;
  }

  get role(): MasterRole {
    return this.roleValue;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.term += 1;
    for (const wake of [...this.roleWaiters]) wake();
    if (this.loadTimer) this.clock.clearTimeout(this.loadTimer);
    const leader = this.leader;
    this.leader = undefined;
    // Standalone, or leading with a live session: one last registry write. Suspended: nothing is
    // written (the session may be gone), which is what fencing asks for anyway.
    if (leader && (this.roleValue === 'standalone' || this.roleValue === 'leading')) await leader.stop();
    else leader?.end();
    // Closing the session deletes our znode at once, so a successor need not wait for the timeout.
    await this.contender?.close().catch((err: unknown) => this.logger.warn({ err }, 'closing the election session failed'));
    await this.detector?.close().catch((err: unknown) => this.logger.warn({ err }, 'closing the leader detector failed'));
    await closeHttpServer(this.server);
    this.logger.info({ master_id: this.id }, 'master stopped');
  }

  // ---- who answers ----------------------------------------------------------------------------

  /** Where a request that needs the leader goes: here, to another master, or nowhere yet. */
  routing(): Routing {
    if (this.leader && (this.roleValue === 'standalone' || (this.roleValue === 'leading' && this.contender?.leading !== false))) {
      return { kind: 'here' };
    }
    if (this.roleValue === 'electing') return { kind: 'wait', settled: this.roleSettled(ELECTING_WAIT_MS) };
    const known = this.detector?.leader;
    if (known && known.id !== this.id) return { kind: 'redirect', address: leaderAddress(known) };
    const why =
      this.roleValue === 'suspended' ? 'this master lost its ZooKeeper link and is not acting as leader' : 'no leading master is known';
    return { kind: 'unavailable', message: `${why}; retry shortly` };
  }

  /** Resolves when the role next changes, or after `timeoutMs`. */
  private roleSettled(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.roleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.roleWaiters.add(done);
    });
  }

  private setRole(role: MasterRole): void {
    this.roleValue = role;
    for (const wake of [...this.roleWaiters]) wake();
  }

  private requireLeader(): Leader {
    const leader = this.leader;
    // The contender's own view counts too: it stops leading the moment ZooKeeper goes quiet, even
    // before its 'suspended' event has reached us.
    if (leader && (this.roleValue === 'standalone' || (this.roleValue === 'leading' && this.contender?.leading !== false))) return leader;
    const route = this.routing();
    throw new TesseraError('NOT_LEADER', route.kind === 'redirect' ? `the leader is ${route.address}` : route.kind === 'unavailable' ? route.message : 'not leading', {
      retryable: true,
    });
  }

  // ---- MasterApi: everything but the local endpoints goes to the Leader -------------------------

  submitTask(body: unknown): Promise<TaskView> {
    return this.requireLeader().submitTask(body);
  }

  listTasks(state?: TaskState): TaskView[] {
    return this.requireLeader().listTasks(state);
  }

  getTask(taskId: string): TaskView {
    return this.requireLeader().getTask(taskId);
  }

  async waitTask(taskId: string, index: number, timeoutMs: number): Promise<TaskView> {
    await this.requireLeader().waitForTask(taskId, index, timeoutMs);
    return this.requireLeader().getTask(taskId);
  }

  killTask(taskId: string): Promise<TaskView> {
    return this.requireLeader().killTask(taskId);
  }

  register(body: unknown): Promise<RegisterResponse> {
    return this.requireLeader().register(body);
  }

  heartbeat(agentId: string): HeartbeatResponse {
    return this.requireLeader().heartbeat(agentId);
  }

  statusUpdate(agentId: string, body: unknown): StatusUpdateResponse | StatusUpdateBatchResponse {
    return this.requireLeader().statusUpdate(agentId, body);
  }

  /** Any master answers: the leader with everything, the others with who leads. */
  state(): MasterState | FollowerState {
    if (this.leader && this.roleValue !== 'follower') return this.leader.state();
    const known = this.detector?.leader;
    return buildFollowerState(this.identity, known && known.id !== this.id ? known : undefined);
  }

  metricsSnapshot(): MetricsSnapshot {
    const elected = this.roleValue === 'standalone' || this.roleValue === 'leading';
    const base = Object.fromEntries(SNAPSHOT_KEYS.map((key) => [key, 0])) as MetricsSnapshot;
    const leaderPart = elected && this.leader ? this.leader.metricsSnapshot() : {};
    return {
      ...base,
      ...leaderPart,
      'master/elected': elected ? 1 : 0,
      'master/uptime_secs': epochSeconds(this.clock) - this.identity.startTime,
    };
  }

  prometheus(): Promise<{ contentType: string; text: string }> {
    return this.metrics.prometheus();
  }

  /** Test seam: runs the leader's sweep now (manual clocks). */
  sweep(): void {
    this.leader?.sweep();
  }

  // ---- election ---------------------------------------------------------------------------------

  private async joinElection(zk: MasterZkOptions): Promise<void> {
    const common = {
      url: zk.url,
      logger: this.logger,
      ...(zk.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: zk.sessionTimeoutMs }),
      ...(zk.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: zk.connectTimeoutMs }),
    };
    this.detector = await LeaderDetector.create(common);
    this.detector.onChange((leader) => this.leaderChanged(leader));
    const info = masterInfoFor({ id: this.id, hostname: this.identity.hostname, ip: this.identity.ip, port: this.port, version: MASTER_VERSION });
    this.contender = await LeaderContender.create({ ...common, id: info.id, data: serializeMasterInfo(info) });
    this.say(`contending for leadership in ZooKeeper ${zk.url.redacted} as ${this.contender.znode ?? '?'}`);
    this.contender.onEvent((event) => this.onElection(event, zk));
    this.leaderChanged(this.detector.leader);
  }

  private onElection(event: ElectionEvent, zk: MasterZkOptions): void {
    if (this.stopped) return;
    switch (event.kind) {
      case 'elected': {
        this.endTerm();
        const term = ++this.term;
        this.setRole('electing');
        this.say(`elected leader (${event.fencePath}); loading the registry`);
        void this.loadTerm(term, event, zk, 0);
        return;
      }
      case 'suspended':
        if (this.roleValue !== 'leading' && this.roleValue !== 'electing') return;
        this.leader?.pause();
        this.setRole('suspended');
        this.say('suspended: the ZooKeeper link broke; not acting as leader until it is back');
        return;
      case 'resumed':
        if (this.roleValue !== 'suspended') return;
        if (this.leader) {
          this.leader.resume();
          this.setRole('leading');
          this.say('resumed: the ZooKeeper session survived; leading again');
        } else {
          this.setRole('electing');
        }
        return;
      case 'deposed':
        this.endTerm();
        this.setRole('follower');
        this.say(`deposed: ${event.reason}; contending again`);
        return;
      default: {
        const unexpected: never = event;
        throw new Error(`unexpected election event ${JSON.stringify(unexpected)}`);
      }
    }
  }

  /** Loads the registry of a new term; retried while the term lasts (ZooKeeper may be slow to answer). */
  private async loadTerm(term: number, event: Extract<ElectionEvent, { kind: 'elected' }>, zk: MasterZkOptions, attempt: number): Promise<void> {
    let leader: Leader | undefined;
    try {
      const registry = await ZkRegistry.create({ session: event.session, basePath: zk.url.path, fencePath: event.fencePath, logger: this.logger });
      leader = await this.newLeader(registry);
    } catch (err) {
      if (term !== this.term || this.stopped) return;
      const waitMs = backoffDelay(attempt, { minMs: 200, maxMs: 5000 });
      this.logger.error({ err }, 'elected, but the registry could not be loaded; retrying');
      this.say(`cannot load the registry (${errorMessage(err)}); retrying in ${waitMs} ms`);
      this.loadTimer = this.clock.setTimeout(() => void this.loadTerm(term, event, zk, attempt + 1), waitMs);
      return;
    }
    if (term !== this.term || this.stopped) {
      leader.end();
      return;
    }
    this.leader = leader;
    if (this.roleValue === 'suspended') {
      leader.pause();
      return;
    }
    this.setRole('leading');
    this.say('leading');
  }

  /** The current term's leader, if any, stops acting for good. */
  private endTerm(): void {
    this.term += 1;
    if (this.loadTimer) this.clock.clearTimeout(this.loadTimer);
    this.leader?.end();
    this.leader = undefined;
  }

  private leaderChanged(leader: MasterInfo | undefined): void {
    if (this.stopped) return;
    if (!leader) this.say('no leading master known');
    else if (leader.id !== this.id) this.say(`the leader is ${leader.pid}`);
  }

  private newLeader(registry: Registry): Promise<Leader> {
    const options = this.options;
    return Leader.create({
      registry,
      identity: this.identity,
      logger: this.logger,
      clock: this.clock,
      ids: this.ids,
      client: this.client,
      agentTimeoutMs: options.agentTimeoutMs ?? 30_000,
      agentReregisterTimeoutMs: options.agentReregisterTimeoutMs ?? DEFAULT_REREGISTER_TIMEOUT_MS,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 5_000,
      completedLimit: options.completedTasksLimit ?? 1000,
      ...(options.offerTimeoutMs === undefined ? {} : { offerTimeoutMs: options.offerTimeoutMs }),
      ...(options.allocationIntervalMs === undefined ? {} : { allocationIntervalMs: options.allocationIntervalMs }),
      ...(options.roleWeights === undefined ? {} : { roleWeights: options.roleWeights }),
    });
  }

  private say(message: string): void {
    this.logger.info({ master_id: this.id, role: this.roleValue }, `election: ${message}`);
    this.options.onRoleChange?.(message);
  }
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return listenHttp(server, port, host).catch((err: unknown) => {
    throw new MasterStartError(`cannot listen on ${host}:${port}: ${errorMessage(err)}`, { cause: err });
  });
}
