// One instance of a highly available framework (services, jobs). With ZooKeeper, every instance
// contends under `<path>/leader` (the same election as masters: json.info_<seq> znodes, lowest
// leads) and the leader keeps the framework's state under `<path>/state`, fenced by its election
// znode. Without ZooKeeper there is one instance, always leading, with its state in a file.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  assertNever,
  errorMessage,
  LeaderContender,
  LeaderDetector,
  leaderAddress as addressOfLeader,
  parseZkUrl,
  type ElectionEvent,
  type Logger,
  type ZkUrl,
} from '../../common/index.js';
import { RuntimeError } from './errors.js';
import { FileStateStore } from './file-state-store.js';
import type { StateStore } from './state-store.js';
import { ZkStateStore } from './zk-state-store.js';

export interface FrameworkInstanceOptions {
  /** 'zk://h:2181/tessera-services': election under <path>/leader, state under <path>/state. */
  zk?: string;
  /** Without zk: the state lives in `<workDir>/state.json`. */
  workDir?: string;
  /** Unique per instance (e.g. 'host:port' or a uuid): the election finds its own leftovers by it. */
  instanceId: string;
  /** Where this instance's HTTP API listens: what followers redirect to while it leads. */
  address: { host: string; port: number };
  logger: Logger;
  /** ZooKeeper session timeout of the election; default 10 s. */
  sessionTimeoutMs?: number;
}

/** The record each instance writes into its election znode: MasterInfo-shaped, so LeaderDetector reads it. */
export interface InstanceInfo {
  id: string;
  hostname: string;
  ip: string;
  port: number;
  pid: string;
  version: string;
  address: { hostname: string; ip: string; port: number };
}

const VERSION = '0.1.0';

type Backend =
  | { kind: 'zk'; url: ZkUrl; contender: LeaderContender; detector: LeaderDetector; store: ZkStateStore }
  | { kind: 'file'; store: FileStateStore };

export class FrameworkInstance {
  /** Whether listeners were last told `true`. */
  private announced = false;
  private closed = false;
  private readonly listeners = new Set<(leading: boolean) => void>();
  private readonly logger: Logger;

  private constructor(
    private readonly backend: Backend,
    private readonly address: { host: string; port: number },
    logger: Logger,
  ) {
    this.logger = logger;
  }

  static async create(options: FrameworkInstanceOptions): Promise<FrameworkInstance> {
    const logger = options.logger.child({ component: 'framework-instance', instance: options.instanceId });
    if (options.zk !== undefined && options.zk !== '') return FrameworkInstance.createZk(options, parseZkUrl(options.zk, '--zk'), logger);
    if (options.workDir === undefined || options.workDir === '') {
      throw new RuntimeError('BAD_OPTIONS', 'a framework instance needs --zk (highly available) or a work dir (single instance)');
    }
    await mkdir(options.workDir, { recursive: true });
    const store = await FileStateStore.open(path.join(options.workDir, 'state.json'));
    const instance = new FrameworkInstance({ kind: 'file', store }, options.address, logger);
    instance.announced = true; // alone: it leads from the start
    logger.info({ file: store.file }, 'single framework instance (no ZooKeeper): leading, state in a file');
    return instance;
  }

  private static async createZk(options: FrameworkInstanceOptions, url: ZkUrl, logger: Logger): Promise<FrameworkInstance> {
    const electionUrl = childUrl(url, 'leader');
    const { host, port } = options.address;
    const info: InstanceInfo = {
      id: options.instanceId,
      hostname: host,
      ip: host,
      port,
      pid: `framework@${host}:${port}`,
      version: VERSION,
      address: { hostname: host, ip: host, port },
    };
    const detector = await LeaderDetector.create({ url: electionUrl, logger });
    let contender: LeaderContender;
    try {
      contender = await LeaderContender.create({
        url: electionUrl,
        id: options.instanceId,
        data: Buffer.from(JSON.stringify(info), 'utf8'),
        logger,
        ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
      });
    } catch (err) {
      await detector.close();
      throw err;
    }
    const store = new ZkStateStore(`${url.path}/state`);
    const instance = new FrameworkInstance({ kind: 'zk', url, contender, detector, store }, options.address, logger);
    contender.onEvent((event) => instance.onElection(event));
    // An election won during create() is delivered on the next microtask: take it before returning,
    // so `leading` and the store are ready when the caller looks.
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    return instance;
  }

  get store(): StateStore {
    return this.backend.store;
  }

  /** True while this instance may act: elected, connected to ZooKeeper, not closed. */
  get leading(): boolean {
    if (this.closed) return false;
    switch (this.backend.kind) {
      case 'file':
        return true;
      case 'zk':
        return this.announced && this.backend.contender.leading;
      default:
        return assertNever(this.backend, 'backend');
    }
  }

  /**
   * `true` when this instance starts leading (elected, or back after a ZooKeeper hiccup), `false`
   * when it must stop acting (suspended, deposed, closed). A listener added while leading hears
   * `true` at once (next microtask). Returns an unsubscribe function.
   */
  onLeadership(listener: (leading: boolean) => void): () => void {
    this.listeners.add(listener);
    if (this.announced) {
      queueMicrotask(() => {
        if (this.listeners.has(listener) && this.announced) this.deliver(listener, true);
      });
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** 'host:port' of the leading instance's HTTP API (this one's when it leads); undefined while none is known. */
  leaderAddress(): string | undefined {
    if (this.leading) return `${this.address.host}:${this.address.port}`;
    switch (this.backend.kind) {
      case 'file':
        return undefined;
      case 'zk': {
        const leader = this.backend.detector.leader;
        return leader ? addressOfLeader(leader) : undefined;
      }
      default:
        return assertNever(this.backend, 'backend');
    }
  }

  /** Leaves the election (a successor is elected at once) and closes the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.announce(false);
    this.listeners.clear();
    switch (this.backend.kind) {
      case 'file':
        await this.backend.store.close();
        return;
      case 'zk':
        this.backend.store.setFence(undefined);
        await this.backend.contender.close();
        await this.backend.detector.close();
        return;
      default:
        assertNever(this.backend, 'backend');
    }
  }

  private onElection(event: ElectionEvent): void {
    if (this.closed || this.backend.kind !== 'zk') return;
    switch (event.kind) {
      case 'elected':
        // A new term: the store writes through this session, fenced by this znode.
        this.backend.store.setFence({ session: event.session, fencePath: event.fencePath });
        this.logger.info({ znode: event.fencePath }, 'this framework instance leads');
        this.announce(true);
        return;
      case 'resumed':
        this.announce(true);
        return;
      case 'suspended':
        this.logger.warn('lost ZooKeeper while leading: not acting until it is back');
        this.announce(false);
        return;
      case 'deposed':
        this.backend.store.setFence(undefined);
        this.logger.warn({ reason: event.reason }, 'this framework instance no longer leads');
        this.announce(false);
        return;
      default:
        assertNever(event, 'election event');
    }
  }

  private announce(leading: boolean): void {
    if (this.announced === leading) return;
    this.announced = leading;
    for (const listener of [...this.listeners]) this.deliver(listener, leading);
  }

  private deliver(listener: (leading: boolean) => void, leading: boolean): void {
    try {
      listener(leading);
    } catch (err) {
      this.logger.error({ err: errorMessage(err), leading }, 'a leadership listener threw');
    }
  }
}

/** The same ensemble and credentials, one level deeper. */
function childUrl(url: ZkUrl, name: string): ZkUrl {
  return { ...url, path: `${url.path}/${name}`, redacted: `${url.redacted}/${name}` };
}
