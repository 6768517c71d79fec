// Finds the leading master the way Mesos's ZooKeeper master detector does: among the children of
// the URL's path, the json.info_<seq> znode with the lowest sequence leads, and its data is the
// leader's MasterInfo. Other children (Mesos's protobuf info_ nodes, registry/, ...) are ignored.
import { assertNever } from '../assert-never.js';
import { errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../logging.js';
import { ZkError } from './errors.js';
import { MASTER_INFO_PREFIX, parseMasterInfo, sequenceOf, type MasterInfo } from './master-info.js';
import { connectZk } from './node-zk-session.js';
import { parseZkUrl, type ZkUrl } from './zk-url.js';
import type { ZkSession, ZkSessionState } from './zk-session.js';

export interface LeaderDetectorOptions {
  url: ZkUrl;
  logger?: Logger;
  sessionTimeoutMs?: number;
  connectTimeoutMs?: number;
  /** How sessions are made; tests may wrap it. Default connectZk. */
  connect?: typeof connectZk;
}

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 5_000;

export class LeaderDetector {
  private session: ZkSession;
  private unsubscribeState: () => void = () => undefined;
  /** The leading znode's name when it holds a valid MasterInfo. */
  private leading: { name: string; info: MasterInfo } | undefined;
  /** The lowest json.info_ znode whose data could not be read as MasterInfo (logged once). */
  private badNode: string | undefined;
  private readonly listeners = new Set<(leader: MasterInfo | undefined) => void>();
  /** Pending waitForLeader calls, failed at once by close(). */
  private readonly closeHooks = new Set<() => void>();
  private closed = false;
  private running = false;
  private pending = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private retryDelayMs = RETRY_MIN_MS;
  private readonly logger: Logger;
  private readonly connect: typeof connectZk;
  /** Settles when the current detection pass and any passes queued behind it are done. */
  private idle: Promise<void> = Promise.resolve();

  private constructor(
    private readonly options: LeaderDetectorOptions,
    session: ZkSession,
  ) {
    this.logger = options.logger ?? silentLogger;
    this.connect = options.connect ?? connectZk;
    this.session = session;
  }

  /** Connects and makes a first detection; rejects with ZK_UNREACHABLE when the ensemble is not there. */
  static async create(options: LeaderDetectorOptions): Promise<LeaderDetector> {
    const connect = options.connect ?? connectZk;
    const session = await connect(options.url, sessionOptions(options));
    const detector = new LeaderDetector(options, session);
    detector.attach(session);
    await detector.idle;
    return detector;
  }

  get leader(): MasterInfo | undefined {
    return this.leading?.info;
  }

  /** Called whenever the leading znode changes (to another master or to none). Returns an unsubscribe function. */
  onChange(listener: (leader: MasterInfo | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The leader, as soon as there is one; NO_LEADER after `timeoutMs`. */
  waitForLeader(timeoutMs: number, signal?: AbortSignal): Promise<MasterInfo> {
    const known = this.leader;
    if (known) return Promise.resolve(known);
    if (this.closed) return Promise.reject(closedError());
    return new Promise<MasterInfo>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        unsubscribe();
        this.closeHooks.delete(onClose);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal?.reason instanceof Error ? signal.reason : new ZkError('NO_LEADER', 'waiting for the leading master was aborted', this.options.url.path));
      };
      const onClose = (): void => {
        cleanup();
        reject(closedError());
      };
      this.closeHooks.add(onClose);
      const unsubscribe = this.onChange((leader) => {
        if (leader) {
          cleanup();
          resolve(leader);
        }
      });
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new ZkError(
            'NO_LEADER',
            `no leading master under ${this.options.url.redacted} after ${timeoutMs} ms (no readable ${MASTER_INFO_PREFIX}* znode) — is a master running with --zk pointing at this URL?`,
            this.options.url.path,
          ),
        );
      }, timeoutMs);
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.unsubscribeState();
    await this.session.close();
    // Fail waiters now rather than at their deadline.
    for (const hook of [...this.closeHooks]) hook();
    this.listeners.clear();
  }

  private attach(session: ZkSession): void {
    this.unsubscribeState();
    this.session = session;
    this.unsubscribeState = session.onStateChange((state) => this.onSessionState(session, state));
    this.schedule();
  }

  private onSessionState(session: ZkSession, state: ZkSessionState): void {
    if (session !== this.session || this.closed) return;
    switch (state) {
      case 'connected':
        // Watches survive a reconnection, but changes while away may have been missed by us.
        this.schedule();
        return;
      case 'disconnected':
        // Keep the last leader until we know better (as Mesos does).
        return;
      case 'expired':
        this.logger.warn({ zk: this.options.url.redacted }, 'ZooKeeper session expired; making a new one to keep detecting the leader');
        void this.reconnect();
        return;
      case 'closed':
        return;
      default:
        assertNever(state);
    }
  }

  private async reconnect(): Promise<void> {
    let delayMs = RETRY_MIN_MS;
    while (!this.closed) {
      try {
        const session = await this.connect(this.options.url, sessionOptions(this.options));
        if (this.closed) {
          await session.close();
          return;
        }
        await this.session.close().catch(() => undefined);
        this.attach(session);
        return;
      } catch (err) {
        this.logger.warn({ zk: this.options.url.redacted, err: errorMessage(err), retryInMs: delayMs }, 'could not make a new ZooKeeper session');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, RETRY_MAX_MS);
      }
    }
  }

  /** Runs detection now, or again after the pass in progress; passes never overlap. */
  private schedule(): void {
    if (this.closed) return;
    this.pending = true;
    if (this.running) return;
    this.running = true;
    this.idle = (async () => {
      try {
        while (this.pending && !this.closed) {
          this.pending = false;
          await this.detectOnce(this.session);
        }
      } finally {
        this.running = false;
      }
    })();
  }

  private async detectOnce(session: ZkSession): Promise<void> {
    if (session.state !== 'connected') return;
    const base = this.options.url.path;
    const again = (): void => {
      if (session === this.session) this.schedule();
    };
    try {
      let children: string[];
      try {
        children = await session.getChildren(base, again);
      } catch (err) {
        if (!(err instanceof ZkError && err.code === 'ZK_NO_NODE')) throw err;
        // No base path yet: no leader; look again when it is created.
        if (await session.exists(base, again)) this.pending = true;
        else this.update(undefined, undefined);
        return;
      }
      const contenders = children
        .map((name) => ({ name, seq: sequenceOf(name) }))
        .filter((c): c is { name: string; seq: number } => c.seq !== undefined)
        .sort((a, b) => a.seq - b.seq);
      const lowest = contenders[0];
      if (!lowest) {
        this.update(undefined, undefined);
        return;
      }
      // No data watch: the leader's data is written once, and its deletion fires the children watch.
      const node = await session.getData(`${base}/${lowest.name}`);
      if (!node) {
        // Gone between listing and reading: list again.
        this.pending = true;
        return;
      }
      let info: MasterInfo;
      try {
        info = parseMasterInfo(node.data);
      } catch (err) {
        if (this.badNode !== lowest.name) {
          this.logger.error({ zk: this.options.url.redacted, znode: `${base}/${lowest.name}`, err: errorMessage(err) }, 'the leading znode does not hold a MasterInfo; treating as no leader');
        }
        this.update(undefined, lowest.name);
        return;
      }
      this.update({ name: lowest.name, info }, undefined);
      this.retryDelayMs = RETRY_MIN_MS;
    } catch (err) {
      if (err instanceof ZkError && (err.code === 'ZK_CONNECTION_LOSS' || err.code === 'ZK_SESSION_EXPIRED')) {
        // The session's state change brings us back here (reconnected) or to a new session (expired).
        return;
      }
      this.logger.error({ zk: this.options.url.redacted, err: errorMessage(err), retryInMs: this.retryDelayMs }, 'leader detection failed; retrying');
      this.retryLater();
    }
  }

  private retryLater(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.schedule();
    }, this.retryDelayMs);
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, RETRY_MAX_MS);
  }

  private update(leading: { name: string; info: MasterInfo } | undefined, badNode: string | undefined): void {
    this.badNode = badNode;
    const before = this.leading?.name;
    this.leading = leading;
    if (before === leading?.name) return;
    if (leading) {
      this.logger.info({ zk: this.options.url.redacted, znode: leading.name, leader: leading.info.pid }, 'detected a new leading master');
    } else {
      this.logger.info({ zk: this.options.url.redacted }, 'no leading master');
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(leading?.info);
      } catch (err) {
        this.logger.error({ err }, 'leader change listener threw');
      }
    }
  }
}

function sessionOptions(options: LeaderDetectorOptions): { sessionTimeoutMs?: number; connectTimeoutMs?: number; logger?: Logger } {
  return {
    ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
    ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
}

function closedError(): ZkError {
  return new ZkError('NO_LEADER', 'the leader detector was closed before a leader was found', undefined, { retryable: false });
}

export interface FindLeaderOptions {
  /** How long to wait for a leader. Default 5000. */
  timeoutMs?: number;
  /** How long to try reaching ZooKeeper. Default 5000. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

/** One shot, for the CLI: parse the URL, connect, wait for the leader, close. Errors are ZkError. */
export async function findLeader(urlText: string, options: FindLeaderOptions = {}): Promise<MasterInfo> {
  const url = parseZkUrl(urlText);
  const detector = await LeaderDetector.create({
    url,
    ...(options.logger ? { logger: options.logger } : {}),
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
  });
  try {
    return await detector.waitForLeader(options.timeoutMs ?? 5_000);
  } finally {
    await detector.close();
  }
}
