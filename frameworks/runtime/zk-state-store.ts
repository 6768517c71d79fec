// A framework's state in ZooKeeper: key 'apps/web' is the znode `<root>/apps/web` (each segment
// percent-encoded) holding the value's JSON, with the 'private' ACL. Only the leading instance reads
// and writes, through the session that holds its election znode, and every write is one transaction
// that first `check`s that znode (the fence): once this instance is deposed its znode is gone and
// ZooKeeper itself refuses the write, whatever the instance believes.
//
// Inner znodes made for deeper keys hold no data; a key's value is never empty (it is JSON), so an
// empty znode is "no value here".
import { errorMessage, isZkError, type ZkOp, type ZkSession } from '../../common/index.js';
import { RuntimeError } from './errors.js';
import { keySegments, parseValue, serializeValue, type StateStore } from './state-store.js';

/** The session of the current term and its election znode. */
export interface Fence {
  session: ZkSession;
  fencePath: string;
}

/** ZooKeeper's default jute.maxbuffer is 1 MB per znode; keep clear of it. */
const MAX_VALUE_BYTES = 1_000_000;
/** A transaction can fail because a parent appeared or vanished since it was read: read again and retry. */
const MAX_ATTEMPTS = 3;
const EMPTY = Buffer.alloc(0);

export class ZkStateStore implements StateStore {
  private fence: Fence | undefined;

  /** `root`: absolute znode path under which keys live, e.g. '/tessera-services/state'. */
  constructor(readonly root: string) {}

  /** Set on election (the term's session and znode); cleared when deposed. */
  setFence(fence: Fence | undefined): void {
    this.fence = fence;
  }

  async get<T>(key: string): Promise<T | undefined> {
    const path = this.pathOf(keySegments(key));
    const { session } = this.requireFence('read', key);
    const node = await this.zk(() => session.getData(path), 'read', key);
    if (!node || node.data.length === 0) return undefined;
    return parseValue<T>(key, path, node.data.toString('utf8'));
  }

  async put(key: string, value: unknown): Promise<void> {
    const segments = keySegments(key);
    const data = Buffer.from(serializeValue(key, value), 'utf8');
    if (data.length > MAX_VALUE_BYTES) {
      throw new RuntimeError('BAD_VALUE', `the value for state key '${key}' is ${data.length} bytes; ZooKeeper holds at most ~1 MB per key — split it over several keys`);
    }
    await this.write(key, async (session) => {
      const path = this.pathOf(segments);
      if (await session.exists(path)) return [{ op: 'set', path, data }];
      // Create the missing ancestors in the same transaction, top down.
      const ops: ZkOp[] = [];
      for (let depth = 0; depth < segments.length; depth++) {
        const ancestor = this.pathOf(segments.slice(0, depth));
        if (ops.length > 0 || !(await session.exists(ancestor))) ops.push({ op: 'create', path: ancestor, data: EMPTY, acl: 'private' });
      }
      ops.push({ op: 'create', path, data, acl: 'private' });
      return ops;
    });
  }

  async delete(key: string): Promise<void> {
    const segments = keySegments(key);
    await this.write(key, async (session) => {
      const path = this.pathOf(segments);
      const node = await session.getData(path);
      if (!node || node.data.length === 0) return [];
      // A key with deeper keys below it keeps its znode, emptied.
      const children = await session.getChildren(path);
      return children.length > 0 ? [{ op: 'set', path, data: EMPTY, version: node.version }] : [{ op: 'remove', path, version: node.version }];
    });
  }

  async list(prefix: string): Promise<string[]> {
    const segments = keySegments(prefix, true);
    const { session } = this.requireFence('list', prefix);
    const keys: string[] = [];
    const walk = async (parts: string[]): Promise<void> => {
      let children: string[];
      try {
        children = await session.getChildren(this.pathOf(parts));
      } catch (err) {
        if (isZkError(err, 'ZK_NO_NODE')) return;
        throw err;
      }
      await Promise.all(
        children.map(async (child) => {
          const childParts = [...parts, decodeURIComponent(child)];
          const node = await session.getData(this.pathOf(childParts));
          if (node && node.data.length > 0) keys.push(childParts.join('/'));
          await walk(childParts);
        }),
      );
    };
    await this.zk(() => walk(segments), 'list', prefix);
    return keys.sort();
  }

  private pathOf(segments: readonly string[]): string {
    return segments.length === 0 ? this.root : `${this.root}/${segments.map(encodeURIComponent).join('/')}`;
  }

  private requireFence(verb: string, key: string): Fence {
    const fence = this.fence;
    if (!fence) throw new RuntimeError('NOT_LEADING', `cannot ${verb} state key '${key}': this framework instance does not lead`, { retryable: false });
    return fence;
  }

  /** Plans the operations on the fence's session and commits them after a `check` of the fence. */
  private async write(key: string, plan: (session: ZkSession) => Promise<ZkOp[]>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const fence = this.requireFence('write', key);
      const ops = await this.zk(() => plan(fence.session), 'write', key);
      if (ops.length === 0) return;
      try {
        await fence.session.transaction([{ op: 'check', path: fence.fencePath }, ...ops]);
        return;
      } catch (err) {
        if (await this.fenceGone(fence)) {
          if (this.fence === fence) this.fence = undefined;
          throw new RuntimeError('FENCED', `ZooKeeper refused to write state key '${key}': this instance's election znode ${fence.fencePath} is gone (it was deposed)`, {
            cause: err,
          });
        }
        const raced = isZkError(err, 'ZK_NODE_EXISTS') || isZkError(err, 'ZK_NO_NODE') || isZkError(err, 'ZK_BAD_VERSION');
        if (!raced || attempt >= MAX_ATTEMPTS) throw wrap(err, 'write', key);
      }
    }
  }

  private async fenceGone(fence: Fence): Promise<boolean> {
    try {
      return !(await fence.session.exists(fence.fencePath));
    } catch {
      return false; // cannot tell (connection trouble): report the original error
    }
  }

  private async zk<T>(action: () => Promise<T>, verb: string, key: string): Promise<T> {
    try {
      return await action();
    } catch (err) {
      throw wrap(err, verb, key);
    }
  }
}

function wrap(err: unknown, verb: string, key: string): RuntimeError {
  if (err instanceof RuntimeError) return err;
  return new RuntimeError('STORE_FAILED', `cannot ${verb} state key '${key}' in ZooKeeper: ${errorMessage(err)}`, {
    cause: err,
    retryable: isZkError(err) ? err.retryable : false,
  });
}
