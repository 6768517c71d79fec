// Leader election through ZooKeeper, the Mesos way: each contender (a master, or an instance of a
// framework) creates an EPHEMERAL_SEQUENTIAL `<path>/json.info_<seq>` znode holding its info (a
// master's MasterInfo); the lowest sequence leads; every other one
// watches only its immediate predecessor (no herd effect) and looks again when that one goes.
//
// Fencing comes first. The master must stop acting the moment the link to ZooKeeper breaks
// ('suspended'), because ZooKeeper may expire the session on its side (and elect someone else) while
// this side cannot hear about it. ZooKeeper clients only learn of an expiry when they reconnect, so,
// as Mesos does, this side also gives the session up by itself once it has been disconnected for the
// session timeout ('deposed'), then makes a new session and contends again.
import { assertNever } from '../../assert-never.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../logging.js';
import { MASTER_INFO_PREFIX, sequenceOf } from '../master-info.js';
import { connectZk } from '../node-zk-session.js';
import type { ZkSession, ZkSessionState } from '../zk-session.js';
import type { ZkUrl } from '../zk-url.js';
import { backoffDelay } from '../../backoff.js';
import type { ContenderState, ElectionEvent } from './election-event.js';

export interface LeaderContenderOptions {
  url: ZkUrl;
  /** Who contends; the znode's data is JSON with this `id` (how a new session finds its leftovers). */
  id: string;
  /** The znode's data: MasterInfo JSON for masters (Mesos tooling reads it), a similar record for frameworks. */
  data: Buffer;
  /** Default 10 s, as Mesos's --zk_session_timeout. */
  sessionTimeoutMs?: number;
  /** How long create() waits for ZooKeeper before it gives up; default 10 s. */
  connectTimeoutMs?: number;
  logger: Logger;
  /** How to make a session; tests wrap it. */
  connect?: typeof connectZk;
  /** Reconnect backoff bounds while ZooKeeper is down; default 100 ms … 5 s, with jitter. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

/** One session and the znode it holds. A new term begins with every new session. */
interface Term {
  readonly session: ZkSession;
  znode: string | undefined;
  unsubscribe: () => void;
  /** Armed while disconnected: gives the session up once ZooKeeper has surely expired it. */
  expiryTimer: NodeJS.Timeout | undefined;
  checking: boolean;
  checkAgain: boolean;
  /** While leading (or suspended): probes ZooKeeper, see watchdogTick(). */
  watchdog: NodeJS.Timeout | undefined;
  probing: boolean;
  /** When the last probe that ZooKeeper answered was sent: the server heard us no earlier. */
  lastAnsweredAt: number;
}

const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export class LeaderContender {
  private stateValue: ContenderState = 'connecting';
  private term: Term | undefined;
  private readonly listeners = new Set<(event: ElectionEvent) => void>();
  /** Our znodes of sessions we gave up on; the server may still hold them (it restores sessions on restart). */
  private readonly stale = new Set<string>();
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private readonly connect: typeof connectZk;
  private readonly logger: Logger;
  /** The election directory (parseZkUrl: absolute, no trailing slash, never '/'). */
  private readonly dir: string;
  private readonly data: Buffer;

  private constructor(private readonly options: LeaderContenderOptions) {
    this.connect = options.connect ?? connectZk;
    this.logger = options.logger;
    this.dir = options.url.path;
    this.data = options.data;
  }

  /**
   * Connects, makes the election znode and takes part. Rejects (ZkError) when ZooKeeper cannot be
   * reached or refuses (wrong credentials); once it resolved, any later trouble is retried forever.
   * When it resolves, `leading` already says whether this contender leads.
   */
  static async create(options: LeaderContenderOptions): Promise<LeaderContender> {
    const contender = new LeaderContender(options);
    const session = await contender.newSession();
    try {
      await contender.enter(session);
    } catch (err) {
      contender.stateValue = 'closed';
      clearTimeout(contender.retryTimer);
      contender.dropTerm();
      await closeQuietly(session);
      throw err;
    }
    return contender;
  }

  get state(): ContenderState {
    return this.stateValue;
  }

  /** True only while our znode is the lowest AND the session is connected (fencing). */
  get leading(): boolean {
    const term = this.term;
    if (this.stateValue !== 'leading' || term?.session.state !== 'connected') return false;
    // Checked here too, not only by the watchdog's timer, which a busy event loop can delay.
    return Date.now() - term.lastAnsweredAt < term.session.sessionTimeoutMs / 2;
  }

  /** Our current election znode, if any. */
  get znode(): string | undefined {
    return this.term?.znode;
  }

  /**
   * Listens for election events; returns an unsubscribe function. A listener added while this
   * contender leads hears 'elected' for the current term at once (on the next microtask), so the
   * caller cannot miss an election that happened during create().
   */
  onEvent(listener: (event: ElectionEvent) => void): () => void {
    this.listeners.add(listener);
    const term = this.term;
    if (this.stateValue === 'leading' && term?.znode !== undefined) {
      const fencePath = term.znode;
      queueMicrotask(() => {
        if (this.listeners.has(listener) && this.term === term && this.stateValue === 'leading') {
          this.deliver(listener, { kind: 'elected', session: term.session, fencePath });
        }
      });
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Leaves the election: closes the session, so our znode goes at once and a successor is elected. */
  async close(): Promise<void> {
    if (this.stateValue === 'closed') return;
    const wasLeader = this.stateValue === 'leading' || this.stateValue === 'suspended';
    this.stateValue = 'closed';
    clearTimeout(this.retryTimer);
    const term = this.dropTerm();
    if (wasLeader) this.emit({ kind: 'deposed', reason: 'the contender was closed' });
    if (term) await closeQuietly(term.session);
    this.listeners.clear();
  }

  // ---- sessions and terms ----

  private newSession(): Promise<ZkSession> {
    return this.connect(this.options.url, {
      sessionTimeoutMs: this.options.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      connectTimeoutMs: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      logger: this.logger,
    });
  }

  /** Makes `session` the current term: our znode in it, then the first look at who leads. */
  private async enter(session: ZkSession): Promise<void> {
    const term: Term = {
      session,
      znode: undefined,
      unsubscribe: () => undefined,
      expiryTimer: undefined,
      checking: false,
      checkAgain: false,
      watchdog: undefined,
      probing: false,
      lastAnsweredAt: 0,
    };
    this.term = term;
    term.unsubscribe = session.onStateChange((state) => this.onSessionState(term, state));
    await session.mkdirp(this.options.url.path, 'world-read');
    await this.removeStale(session);
    await this.createZnode(term);
    // The first look runs here so create() knows the outcome and sees its errors; watches that fire
    // meanwhile only ask for another look, taken once this one is done.
    term.checking = true;
    try {
      await this.check(term);
    } finally {
      term.checking = false;
    }
    if (term.checkAgain && this.term === term) this.recheck(term);
  }

  private async createZnode(term: Term): Promise<void> {
    const path = await term.session.create(`${this.dir}/${MASTER_INFO_PREFIX}`, this.data, 'ephemeral-sequential', 'world-read');
    if (this.term !== term) return;
    term.znode = path;
    if (this.stateValue === 'connecting') this.stateValue = 'contending';
    this.logger.info({ znode: path }, 'contending for leadership');
  }

  /** Deletes znodes of our abandoned sessions so nobody waits a session timeout for them. */
  private async removeStale(session: ZkSession): Promise<void> {
    for (const path of [...this.stale]) {
      try {
        await session.remove(path);
        this.stale.delete(path);
        this.logger.info({ znode: path }, 'removed the znode of our abandoned session');
      } catch (err) {
        if (codeOf(err) === 'ZK_NO_NODE') this.stale.delete(path);
        // Anything else: it goes when ZooKeeper expires that session; no need to wait for it here.
      }
    }
  }

  private onSessionState(term: Term, state: ZkSessionState): void {
    if (this.term !== term) return;
    switch (state) {
      case 'connected':
        clearTimeout(term.expiryTimer);
        term.expiryTimer = undefined;
        if (term.znode === undefined) return; // still inside enter(), which goes on by itself
        if (this.stateValue === 'connecting') this.stateValue = 'contending';
        // Suspended: check() resumes when our znode is still the lowest. Contending: our watch may
        // have been lost with the connection, so look again.
        this.recheck(term);
        return;
      case 'disconnected':
        if (this.stateValue === 'leading') {
          this.stateValue = 'suspended';
          this.logger.warn('lost the link to ZooKeeper while leading: suspended');
          this.emit({ kind: 'suspended' });
        } else if (this.stateValue === 'contending') {
          this.stateValue = 'connecting';
        }
        clearTimeout(term.expiryTimer);
        term.expiryTimer = setTimeout(
          () => this.abandon(term, `disconnected from ZooKeeper for the session timeout (${term.session.sessionTimeoutMs} ms)`),
          term.session.sessionTimeoutMs,
        );
        return;
      case 'expired':
        this.abandon(term, 'the ZooKeeper session expired');
        return;
      case 'closed':
        this.abandon(term, 'the ZooKeeper session was closed');
        return;
      default:
        assertNever(state);
    }
  }

  /** Gives up the current term for good: deposed if it led, then a new session after a backoff. */
  private abandon(term: Term, reason: string): void {
    if (this.term !== term) return;
    const wasLeader = this.stateValue === 'leading' || this.stateValue === 'suspended';
    this.dropTerm();
    if (term.znode !== undefined) this.stale.add(term.znode);
    this.stateValue = 'connecting';
    this.logger.warn({ reason, wasLeader }, 'gave up the ZooKeeper session; contending again with a new one');
    if (wasLeader) this.emit({ kind: 'deposed', reason });
    // Do not wait: closing a session that cannot reach the server may take as long as the outage.
    void closeQuietly(term.session);
    this.scheduleReconnect();
  }

  private dropTerm(): Term | undefined {
    const term = this.term;
    if (!term) return undefined;
    this.term = undefined;
    term.unsubscribe();
    clearTimeout(term.expiryTimer);
    clearInterval(term.watchdog);
    return term;
  }

  private scheduleReconnect(): void {
    if (this.stateValue === 'closed') return;
    clearTimeout(this.retryTimer);
    const delayMs = backoffDelay(this.attempt++, {
      minMs: this.options.retryMinMs ?? 100,
      maxMs: this.options.retryMaxMs ?? 5_000,
    });
    this.retryTimer = setTimeout(() => void this.reconnect(), delayMs);
  }

  private async reconnect(): Promise<void> {
    if (this.isClosed() || this.currentTerm() !== undefined) return;
    let session: ZkSession;
    try {
      session = await this.newSession();
    } catch (err) {
      this.logger.warn({ err: errorMessage(err), attempt: this.attempt }, 'cannot reach ZooKeeper; retrying');
      this.scheduleReconnect();
      return;
    }
    // close() may have run, or (never expected) another term begun, while we connected.
    if (this.isClosed() || this.currentTerm() !== undefined) {
      await closeQuietly(session);
      return;
    }
    try {
      await this.enter(session);
      this.attempt = 0;
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, 'could not rejoin the election; retrying with a new session');
      const term = this.currentTerm();
      if (term?.session === session) {
        this.dropTerm();
        if (term.znode !== undefined) this.stale.add(term.znode);
        if (!this.isClosed()) this.stateValue = 'connecting';
        void closeQuietly(session);
        this.scheduleReconnect();
      }
      // Otherwise abandon() already scheduled the next attempt (or close() ended it all).
    }
  }

  // Methods, not fields, so TypeScript does not carry narrowing across awaits.
  private isClosed(): boolean {
    return this.stateValue === 'closed';
  }

  private currentTerm(): Term | undefined {
    return this.term;
  }

  // ---- the election proper ----

  /** Runs check() again, one at a time per term; errors are retried or left to the session handler. */
  private recheck(term: Term): void {
    if (term.checking) {
      term.checkAgain = true;
      return;
    }
    term.checking = true;
    void (async () => {
      try {
        do {
          term.checkAgain = false;
          try {
            await this.check(term);
          } catch (err) {
            this.onCheckError(term, err);
          }
        } while (term.checkAgain && this.term === term);
      } finally {
        term.checking = false;
      }
    })();
  }

  private onCheckError(term: Term, err: unknown): void {
    if (this.term !== term) return;
    const code = codeOf(err);
    // Connection trouble: the session's state change brings us back here (or abandons the term).
    if (code === 'ZK_CONNECTION_LOSS' || code === 'ZK_SESSION_EXPIRED' || term.session.state !== 'connected') return;
    this.logger.warn({ err: errorMessage(err) }, 'election check failed; trying again');
    setTimeout(() => {
      if (this.term === term) this.recheck(term);
    }, backoffDelay(0, { minMs: this.options.retryMinMs ?? 100, maxMs: this.options.retryMaxMs ?? 5_000 }));
  }

  /** Who leads? We do when our znode is the lowest; otherwise watch only the one just below ours. */
  private async check(term: Term): Promise<void> {
    const ours = term.znode;
    if (this.term !== term || ours === undefined) return;
    const session = term.session;
    const startedAt = Date.now();
    const names = await session.getChildren(this.dir);
    if (this.term !== term || term.znode !== ours) return;
    const contenders = names
      .map((name) => ({ name, seq: sequenceOf(name) }))
      .filter((c): c is { name: string; seq: number } => c.seq !== undefined)
      .sort((a, b) => a.seq - b.seq)
      .map((c) => c.name);
    const index = contenders.indexOf(basename(ours));
    if (index < 0) {
      await this.lostZnode(term, `our znode ${ours} was deleted`);
      return;
    }
    if (index === 0) {
      // Watch our own znode too: if someone deletes it, we no longer lead.
      const exists = await session.exists(ours, () => this.recheck(term));
      if (this.term !== term || term.znode !== ours) return;
      if (!exists) {
        await this.lostZnode(term, `our znode ${ours} was deleted`);
        return;
      }
      // Between the reads and here the link may have broken: then the reconnect handler decides.
      if (session.state !== 'connected') return;
      term.lastAnsweredAt = Math.max(term.lastAnsweredAt, startedAt);
      this.becomeLeader(term, ours);
      return;
    }
    if (this.stateValue === 'leading' || this.stateValue === 'suspended') {
      // Cannot happen while our znode lives (sequences only grow), but never lead behind someone.
      this.depose(`a lower znode than ours (${ours}) exists`);
    }
    const predecessor = `${this.dir}/${contenders[index - 1] ?? ''}`;
    const node = await session.getData(predecessor, () => this.recheck(term));
    if (this.term !== term || term.znode !== ours) return;
    if (node === undefined) {
      term.checkAgain = true; // gone between the listing and the read
      if (!term.checking) this.recheck(term);
      return;
    }
    if (this.isOurs(node.data)) {
      // Left over from one of our own earlier sessions (or a create whose answer was lost): it would
      // block us forever, so remove it.
      this.logger.info({ znode: predecessor }, 'removing our own leftover election znode');
      try {
        await session.remove(predecessor);
      } catch (err) {
        if (codeOf(err) !== 'ZK_NO_NODE') throw err;
      }
      return; // the watch on it fires and looks again
    }
    if (this.stateValue !== 'contending' && session.state === 'connected') this.stateValue = 'contending';
    this.logger.debug({ znode: ours, predecessor }, 'not leading; watching the predecessor');
  }

  private becomeLeader(term: Term, znode: string): void {
    if (this.stateValue === 'leading') return;
    const resumed = this.stateValue === 'suspended';
    this.stateValue = 'leading';
    this.logger.info({ znode }, resumed ? 'reconnected to ZooKeeper: leading again' : 'elected leader');
    this.emit(resumed ? { kind: 'resumed' } : { kind: 'elected', session: term.session, fencePath: znode });
    if (term.watchdog === undefined) {
      const period = Math.max(20, Math.floor(term.session.sessionTimeoutMs / 6));
      term.watchdog = setInterval(() => this.watchdogTick(term), period);
    }
  }

  /**
   * A leader's own check that ZooKeeper still hears it. The client library notices a closed
   * connection, but not a silent one (a partition that drops packets): it has no read timeout, so
   * the session could expire on the server, and a successor be elected, while this side still
   * believes it is connected. So, as ZooKeeper's Java client does with its read timeout, we suspend
   * once no answer came for half the session timeout (`leading` says so even before this timer runs,
   * should the event loop be late), and give the session up after all of it. The server cannot expire
   * the session before `lastAnsweredAt + timeout`, so we stop first, with half a timeout to spare.
   */
  private watchdogTick(term: Term): void {
    const ours = term.znode;
    if (this.term !== term || ours === undefined || (this.stateValue !== 'leading' && this.stateValue !== 'suspended')) {
      clearInterval(term.watchdog);
      term.watchdog = undefined;
      return;
    }
    const timeoutMs = term.session.sessionTimeoutMs;
    const silentMs = Date.now() - term.lastAnsweredAt;
    if (silentMs >= timeoutMs) {
      this.abandon(term, `ZooKeeper did not answer for the session timeout (${timeoutMs} ms)`);
      return;
    }
    if (this.stateValue === 'leading' && silentMs >= timeoutMs / 2) {
      this.stateValue = 'suspended';
      this.logger.warn({ silentMs }, 'ZooKeeper stopped answering while leading: suspended');
      this.emit({ kind: 'suspended' });
    }
    if (term.probing || term.session.state !== 'connected') return;
    term.probing = true;
    const sentAt = Date.now();
    term.session.exists(ours).then(
      (exists) => {
        term.probing = false;
        if (this.term !== term) return;
        term.lastAnsweredAt = Math.max(term.lastAnsweredAt, sentAt);
        // Gone: check() deposes. Answering again after a silent spell: check() resumes.
        if (!exists || this.stateValue === 'suspended') this.recheck(term);
      },
      () => {
        term.probing = false; // connection trouble reaches us through the session's state
      },
    );
  }

  private depose(reason: string): void {
    this.stateValue = 'contending';
    this.logger.warn({ reason }, 'deposed');
    this.emit({ kind: 'deposed', reason });
  }

  /** Our znode went while the session lives (someone deleted it): the term is over; contend anew. */
  private async lostZnode(term: Term, reason: string): Promise<void> {
    if (this.stateValue === 'leading' || this.stateValue === 'suspended') this.depose(reason);
    term.znode = undefined;
    await this.createZnode(term);
    term.checkAgain = true;
    if (!term.checking) this.recheck(term);
  }

  private isOurs(data: Buffer): boolean {
    try {
      const parsed = JSON.parse(data.toString('utf8')) as { id?: unknown };
      return parsed.id === this.options.id;
    } catch {
      return false;
    }
  }

  private emit(event: ElectionEvent): void {
    for (const listener of [...this.listeners]) this.deliver(listener, event);
  }

  private deliver(listener: (event: ElectionEvent) => void, event: ElectionEvent): void {
    try {
      listener(event);
    } catch (err) {
      this.logger.error({ err: errorMessage(err), event: event.kind }, 'an election listener threw');
    }
  }
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

async function closeQuietly(session: ZkSession): Promise<void> {
  try {
    await session.close();
  } catch {
    // closing is best effort: the session expires on the server anyway
  }
}
