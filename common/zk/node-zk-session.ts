// ZkSession (the port in zk-session.ts) over node-zookeeper-client.
//
// Paths are absolute ZooKeeper paths (no chroot): callers join them onto ZkUrl.path themselves.
// The library retries a lost connection forever and queues requests meanwhile; this adapter instead
// fails an operation at once with ZK_CONNECTION_LOSS while disconnected (as ZooKeeper's own clients
// do), gives up connecting after connectTimeoutMs, and turns the library's codes into ZkError.
import { createHash } from 'node:crypto';
import zookeeper from 'node-zookeeper-client';
import type { ACL as AclType, Client, Event as ZkEvent, Exception as ExceptionType, State as StateType } from 'node-zookeeper-client';
import { assertNever } from '../assert-never.js';
import { silentLogger, type Logger } from '../logging.js';
import { ZkError } from './errors.js';
import { splitServer, type ZkUrl } from './zk-url.js';
import type { ZkAclKind, ZkCreateMode, ZkNodeData, ZkOp, ZkSession, ZkSessionState } from './zk-session.js';

const { ACL, Id, Permission, CreateMode, Exception, State } = zookeeper;

export interface ConnectZkOptions {
  /** Requested session timeout; ZooKeeper clamps it to its min/max. Default 10000. */
  sessionTimeoutMs?: number;
  /** How long to try reaching the ensemble before failing with ZK_UNREACHABLE. Default 5000. */
  connectTimeoutMs?: number;
  logger?: Logger;
}

/** Connects a new session; rejects with ZK_UNREACHABLE when no server answers in time (never hangs). */
export async function connectZk(url: ZkUrl, options: ConnectZkOptions = {}): Promise<ZkSession> {
  const sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const logger = options.logger ?? silentLogger;
  const servers = url.servers.map(splitServer);
  const needsServerList = servers.some((s) => s.host.includes(':'));
  // The library's connection-string parser splits on ':' and cannot read IPv6; for those, hand it a
  // placeholder and set its server list directly (a private field: pinned to node-zookeeper-client 1.1.x).
  const connectString = needsServerList ? servers.map((_, i) => `placeholder${i}:1`).join(',') : url.servers.join(',');
  const client = zookeeper.createClient(connectString, {
    sessionTimeout: sessionTimeoutMs,
    // Between rounds over all servers; short so a restarted ensemble is found again quickly.
    spinDelay: 250,
    retries: 0,
  });
  if (needsServerList) {
    const manager = (client as unknown as { connectionManager?: { servers?: unknown } }).connectionManager;
    if (!manager) throw new ZkError('ZK_FAILED', 'node-zookeeper-client changed its internals: cannot connect to IPv6 servers');
    manager.servers = servers;
  }
  if (url.credentials) client.addAuthInfo('digest', Buffer.from(`${url.credentials.user}:${url.credentials.password}`, 'utf8'));

  await new Promise<void>((resolve, reject) => {
    const onState = (state: StateType): void => {
      if (state === State.SYNC_CONNECTED) {
        finish();
        resolve();
      } else if (state === State.AUTH_FAILED) {
        finish();
        shutDown(client);
        reject(new ZkError('ZK_NO_AUTH', `ZooKeeper at ${url.servers.join(',')} rejected the credentials in ${url.redacted} — check the user and password in the zk:// URL`));
      }
    };
    const timer = setTimeout(() => {
      finish();
      shutDown(client);
      reject(
        new ZkError(
          'ZK_UNREACHABLE',
          `could not reach ZooKeeper at ${url.servers.join(',')} within ${connectTimeoutMs} ms — check that the ensemble in ${url.redacted} is running and reachable from this host`,
        ),
      );
    }, connectTimeoutMs);
    const finish = (): void => {
      clearTimeout(timer);
      client.removeListener('state', onState);
    };
    client.on('state', onState);
    client.connect();
  });
  return new NodeZkSession(client, url, logger);
}

/** Closes the library's client and its socket now (it would otherwise keep retrying). */
function shutDown(client: Client): void {
  client.close();
  const socket = (client as unknown as { connectionManager?: { socket?: { destroy?: () => void } } }).connectionManager?.socket;
  socket?.destroy?.();
}

type Callback<T> = (error: Error | ExceptionType | null, value: T) => void;

class NodeZkSession implements ZkSession {
  private currentState: ZkSessionState = 'connected';
  private readonly listeners = new Set<(state: ZkSessionState) => void>();
  private readonly acls: Record<ZkAclKind, AclType[]>;

  constructor(
    private readonly client: Client,
    private readonly url: ZkUrl,
    private readonly logger: Logger,
  ) {
    this.acls = aclsFor(url);
    client.on('state', (state: StateType) => this.onLibraryState(state));
    logger.info({ zk: url.redacted, sessionTimeoutMs: this.sessionTimeoutMs }, 'ZooKeeper session connected');
  }

  get sessionTimeoutMs(): number {
    return this.client.getSessionTimeout();
  }

  get state(): ZkSessionState {
    return this.currentState;
  }

  onStateChange(listener: (state: ZkSessionState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async create(path: string, data: Buffer, mode: ZkCreateMode, acl: ZkAclKind): Promise<string> {
    return this.call<string>('create', path, (cb) => this.client.create(path, data, this.acls[acl], createModeOf(mode), cb));
  }

  async mkdirp(path: string, acl: ZkAclKind): Promise<void> {
    // Own loop rather than the library's: it creates blindly and so fails with NO_AUTH on an
    // existing parent we may read but not write.
    const segments = path.split('/').filter((s) => s !== '');
    let current = '';
    for (const segment of segments) {
      current += `/${segment}`;
      if (await this.exists(current)) continue;
      try {
        await this.create(current, Buffer.alloc(0), 'persistent', acl);
      } catch (err) {
        if (!(err instanceof ZkError && err.code === 'ZK_NODE_EXISTS')) throw err;
      }
    }
  }

  async getChildren(path: string, watch?: () => void): Promise<string[]> {
    return this.call<string[]>('list the children of', path, (cb) =>
      watch ? this.client.getChildren(path, watcher(watch), cb) : this.client.getChildren(path, cb),
    );
  }

  async getData(path: string, watch?: () => void): Promise<ZkNodeData | undefined> {
    try {
      return await new Promise<ZkNodeData>((resolve, reject) => {
        const done = (error: Error | ExceptionType | null, data: Buffer, stat: { version: number }): void => {
          if (error) reject(this.toError(error, 'read', path));
          else resolve({ data: data ?? Buffer.alloc(0), version: stat.version });
        };
        if (!this.usable('read', path, reject)) return;
        if (watch) this.client.getData(path, watcher(watch), done);
        else this.client.getData(path, done);
      });
    } catch (err) {
      if (!(err instanceof ZkError && err.code === 'ZK_NO_NODE')) throw err;
      // ZooKeeper sets no watch on a missing node's data; watch its creation instead. If it appeared
      // in between, what we report (missing) is already stale: fire at once.
      if (watch) {
        const once = onceOnly(watch);
        if (await this.exists(path, once)) queueMicrotask(once);
      }
      return undefined;
    }
  }

  async exists(path: string, watch?: () => void): Promise<boolean> {
    const stat = await this.call<unknown>('check', path, (cb) =>
      watch ? this.client.exists(path, watcher(watch), cb) : this.client.exists(path, cb),
    );
    return stat !== null && stat !== undefined;
  }

  async remove(path: string, version = -1): Promise<void> {
    await this.call<void>('remove', path, (cb) => this.client.remove(path, version, (error) => cb(error, undefined)));
  }

  async transaction(ops: readonly ZkOp[]): Promise<void> {
    if (ops.length === 0) return;
    const label = `a transaction on ${ops.map((o) => o.path).join(', ')}`;
    await new Promise<void>((resolve, reject) => {
      if (!this.usable('commit', label, reject)) return;
      const tx = this.client.transaction();
      for (const op of ops) {
        switch (op.op) {
          case 'create':
            tx.create(op.path, op.data, this.acls[op.acl], CreateMode.PERSISTENT);
            break;
          case 'set':
            tx.setData(op.path, op.data, op.version ?? -1);
            break;
          case 'remove':
            tx.remove(op.path, op.version ?? -1);
            break;
          case 'check':
            tx.check(op.path, op.version ?? -1);
            break;
          default:
            assertNever(op);
        }
      }
      tx.commit((error: Error | ExceptionType | null, results: unknown) => {
        if (!error) {
          resolve();
          return;
        }
        const failed = failedOpIndex(results);
        const op = failed === undefined ? undefined : ops[failed];
        reject(this.toError(error, op ? `${describeOp(op)} (in a transaction of ${ops.length}; nothing was applied)` : 'commit', op?.path ?? label));
      });
    });
  }

  async close(): Promise<void> {
    if (this.currentState === 'closed') return;
    const previous = this.currentState;
    this.setState('closed');
    if (previous === 'expired') return;
    if (previous === 'disconnected') {
      // Nothing to tell the ensemble; stop the library's reconnecting now.
      shutDown(this.client);
      this.client.removeAllListeners();
      return;
    }
    // Resolve once the library has sent closeSession and the socket is gone (the server has then
    // deleted our ephemeral nodes); force the socket shut if that takes too long (ensemble down).
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        shutDown(this.client);
        resolve();
      }, 2_000);
      this.client.once('disconnected', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.close();
    });
    this.client.removeAllListeners();
  }

  /** Runs one library call with a callback, mapping its error. */
  private call<T>(verb: string, path: string, start: (cb: Callback<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.usable(verb, path, reject)) return;
      start((error, value) => {
        if (error) reject(this.toError(error, verb, path));
        else resolve(value);
      });
    });
  }

  /** Rejects and returns false when the session cannot carry a request now. */
  private usable(verb: string, path: string, reject: (err: ZkError) => void): boolean {
    switch (this.currentState) {
      case 'connected':
        return true;
      case 'disconnected':
        reject(new ZkError('ZK_CONNECTION_LOSS', `cannot ${verb} ${path}: lost the connection to ZooKeeper at ${this.url.servers.join(',')}; retry once it is back`, path));
        return false;
      case 'expired':
        reject(new ZkError('ZK_SESSION_EXPIRED', `cannot ${verb} ${path}: the ZooKeeper session expired; a new session is needed`, path));
        return false;
      case 'closed':
        reject(new ZkError('ZK_CONNECTION_LOSS', `cannot ${verb} ${path}: the ZooKeeper session is closed`, path, { retryable: false }));
        return false;
      default:
        return assertNever(this.currentState);
    }
  }

  private onLibraryState(state: StateType): void {
    if (this.currentState === 'closed' || this.currentState === 'expired') return;
    if (state === State.SYNC_CONNECTED || state === State.CONNECTED_READ_ONLY) {
      this.setState('connected');
    } else if (state === State.DISCONNECTED) {
      this.setState('disconnected');
    } else if (state === State.EXPIRED) {
      this.setState('expired');
    } else if (state === State.AUTH_FAILED) {
      this.logger.error({ zk: this.url.redacted }, 'ZooKeeper rejected the credentials; the session is closed');
      shutDown(this.client);
      this.setState('closed');
    }
  }

  private setState(state: ZkSessionState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    const level = state === 'connected' || state === 'closed' ? 'info' : 'warn';
    this.logger[level]({ zk: this.url.redacted, state }, `ZooKeeper session ${state}`);
    for (const listener of [...this.listeners]) {
      try {
        listener(state);
      } catch (err) {
        this.logger.error({ err }, 'ZooKeeper state listener threw');
      }
    }
  }

  private toError(error: Error | ExceptionType, verb: string, path: string): ZkError {
    return toZkError(error, verb, path, this.url);
  }
}

function onceOnly(fn: () => void): () => void {
  let called = false;
  return () => {
    if (called) return;
    called = true;
    fn();
  };
}

function watcher(watch: () => void): (event: ZkEvent) => void {
  return () => watch();
}

function createModeOf(mode: ZkCreateMode): number {
  switch (mode) {
    case 'persistent':
      return CreateMode.PERSISTENT;
    case 'ephemeral':
      return CreateMode.EPHEMERAL;
    case 'ephemeral-sequential':
      return CreateMode.EPHEMERAL_SEQUENTIAL;
    default:
      return assertNever(mode);
  }
}

function aclsFor(url: ZkUrl): Record<ZkAclKind, AclType[]> {
  const open = [new ACL(Permission.ALL, new Id('world', 'anyone'))];
  if (!url.credentials) return { 'world-read': open, private: open };
  // The digest id ZooKeeper derives from user:password; same as the 'auth' scheme for this session,
  // but does not depend on the auth packet having been processed.
  const { user, password } = url.credentials;
  const digest = createHash('sha1').update(`${user}:${password}`, 'utf8').digest('base64');
  const owner = new ACL(Permission.ALL, new Id('digest', `${user}:${digest}`));
  return { 'world-read': [new ACL(Permission.READ, new Id('world', 'anyone')), owner], private: [owner] };
}

function describeOp(op: ZkOp): string {
  switch (op.op) {
    case 'create':
      return 'create';
    case 'set':
      return 'update';
    case 'remove':
      return 'remove';
    case 'check':
      return 'check the version of';
    default:
      return assertNever(op);
  }
}

/** Index of the op that made a multi fail: the first result with an error other than "rolled back". */
function failedOpIndex(results: unknown): number | undefined {
  if (!Array.isArray(results)) return undefined;
  const errs = results.map((r: unknown) => (r !== null && typeof r === 'object' && typeof (r as { err?: unknown }).err === 'number' ? (r as { err: number }).err : 0));
  const index = errs.findIndex((e) => e !== Exception.OK && e !== Exception.RUNTIME_INCONSISTENCY);
  if (index !== -1) return index;
  const any = errs.findIndex((e) => e !== Exception.OK);
  return any === -1 ? undefined : any;
}

/** Maps a node-zookeeper-client error to a ZkError whose message names the path and the remedy. */
export function toZkError(error: unknown, verb: string, path: string, url?: ZkUrl): ZkError {
  if (error instanceof ZkError) return error;
  if (!(error instanceof Exception)) {
    return new ZkError('ZK_FAILED', `ZooKeeper failed to ${verb} ${path}: ${error instanceof Error ? error.message : String(error)}`, path, { cause: error });
  }
  const where = url ? ` at ${url.servers.join(',')}` : '';
  const options = { cause: error };
  const code = error.getCode();
  if (code === Exception.NO_NODE) return new ZkError('ZK_NO_NODE', `cannot ${verb} ${path}: it does not exist (or its parent does not)`, path, options);
  if (code === Exception.NODE_EXISTS) return new ZkError('ZK_NODE_EXISTS', `cannot ${verb} ${path}: it already exists`, path, options);
  if (code === Exception.NO_AUTH || code === Exception.AUTH_FAILED) {
    return new ZkError('ZK_NO_AUTH', `ZooKeeper refused to ${verb} ${path}: not authorised — check the credentials in the zk:// URL`, path, options);
  }
  if (code === Exception.BAD_VERSION) return new ZkError('ZK_BAD_VERSION', `cannot ${verb} ${path}: it changed since it was read (version mismatch); read it again`, path, options);
  if (code === Exception.SESSION_EXPIRED) return new ZkError('ZK_SESSION_EXPIRED', `cannot ${verb} ${path}: the ZooKeeper session expired; a new session is needed`, path, options);
  if (code === Exception.CONNECTION_LOSS || code === Exception.OPERATION_TIMEOUT) {
    return new ZkError('ZK_CONNECTION_LOSS', `lost the connection to ZooKeeper${where} while trying to ${verb} ${path}; it may or may not have happened — retry`, path, options);
  }
  if (code === Exception.NOT_EMPTY) return new ZkError('ZK_FAILED', `cannot ${verb} ${path}: it still has children`, path, options);
  if (code === Exception.NO_CHILDREN_FOR_EPHEMERALS) return new ZkError('ZK_FAILED', `cannot ${verb} ${path}: its parent is ephemeral and cannot have children`, path, options);
  return new ZkError('ZK_FAILED', `ZooKeeper failed to ${verb} ${path}: ${error.getName()} (${code})`, path, options);
}
