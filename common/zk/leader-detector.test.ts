import assert from 'node:assert/strict';
import { freePort } from '../../integration-tests/harness/ports.js';
import { waitFor } from '../wait-for.js';
import { ZkError } from './errors.js';
import { findLeader, LeaderDetector } from './leader-detector.js';
import { masterInfoFor, serializeMasterInfo, type MasterInfo } from './master-info.js';
import { connectZk } from './node-zk-session.js';
import { startTestZooKeeper, type ZooKeeperServer } from './zk-test-server.js';
import { parseZkUrl } from './zk-url.js';
import type { ZkSession } from './zk-session.js';

const TIMEOUTS = { sessionTimeoutMs: 2_000, connectTimeoutMs: 3_000 };

function info(n: number): MasterInfo {
  return masterInfoFor({ id: `master-${n}`, hostname: `m${n}`, ip: '127.0.0.1', port: 5050 + n, version: 'test' });
}

/** Reads the leader afresh (past TypeScript's narrowing from an earlier assertion). */
const leaderOf = (d: LeaderDetector): MasterInfo | undefined => d.leader;

describe('LeaderDetector (real ZooKeeper)', function () {
  this.timeout(30_000);
  let zk: ZooKeeperServer | undefined;
  let base = 0;
  const cleanups: (() => Promise<unknown>)[] = [];

  /** A fresh base path per test, so tests do not see each other's znodes. */
  function nextPath(): string {
    base += 1;
    return `/detect${base}`;
  }

  async function session(path: string): Promise<ZkSession> {
    assert.ok(zk);
    const s = await connectZk(parseZkUrl(zk.url(path)), TIMEOUTS);
    cleanups.push(() => s.close());
    return s;
  }

  async function detector(path: string): Promise<LeaderDetector> {
    assert.ok(zk);
    const d = await LeaderDetector.create({ url: parseZkUrl(zk.url(path)), ...TIMEOUTS });
    cleanups.push(() => d.close());
    return d;
  }

  /** A contending master: an ephemeral json.info_ znode on its own session. */
  async function contend(path: string, n: number): Promise<{ session: ZkSession; znode: string }> {
    const s = await session(path);
    await s.mkdirp(path, 'world-read');
    const znode = await s.create(`${path}/json.info_`, serializeMasterInfo(info(n)), 'ephemeral-sequential', 'world-read');
    return { session: s, znode };
  }

  before(async function () {
    zk = await startTestZooKeeper(this);
  });
  afterEach(async () => {
    await Promise.allSettled(cleanups.splice(0).reverse().map((c) => c()));
  });
  after(async () => {
    await zk?.destroy();
  });

  it('rejects waitForLeader with NO_LEADER when nobody leads', async () => {
    const path = nextPath();
    const s = await session(path);
    await s.mkdirp(path, 'world-read');
    await s.create(`${path}/registry`, Buffer.alloc(0), 'persistent', 'world-read'); // not a contender
    const d = await detector(path);
    assert.equal(d.leader, undefined);
    const started = Date.now();
    await assert.rejects(d.waitForLeader(300), (err: unknown) => err instanceof ZkError && err.code === 'NO_LEADER' && /json\.info_/.test(err.message));
    assert.ok(Date.now() - started >= 290);
  });

  it('picks the lowest sequence and follows it to the next when it goes', async () => {
    const path = nextPath();
    const first = await contend(path, 1);
    const second = await contend(path, 2);
    const d = await detector(path);
    assert.equal(d.leader?.id, 'master-1');
    const changes: (string | undefined)[] = [];
    d.onChange((leader) => changes.push(leader?.id));
    const removedAt = Date.now();
    await first.session.remove(first.znode);
    await waitFor('the next leader', () => d.leader?.id === 'master-2', 1_000);
    assert.ok(Date.now() - removedAt < 1_000);
    assert.deepEqual(changes, ['master-2']);
    // A later contender does not take over.
    await contend(path, 3);
    await second.session.create(`${path}/unrelated`, Buffer.alloc(0), 'persistent', 'world-read');
    const check = await session(path);
    await waitFor('contender 3 visible', async () => (await check.getChildren(path)).length === 3, 2_000);
    assert.equal(d.leader?.id, 'master-2');
    // The leader's session ends: its ephemeral znode goes, master-3 leads.
    await second.session.close();
    await waitFor('master-3 leads', () => d.leader?.id === 'master-3', 2_000);
    assert.deepEqual(changes, ['master-2', 'master-3']);
  });

  it('waitForLeader resolves when a leader appears under a base path created later', async () => {
    const path = nextPath();
    const d = await detector(path);
    assert.equal(d.leader, undefined);
    const waiting = d.waitForLeader(5_000);
    await contend(path, 7);
    assert.equal((await waiting).id, 'master-7');
    assert.equal(leaderOf(d)?.pid, 'master@127.0.0.1:5057');
  });

  it('treats a leading znode with bad JSON as no leader, and recovers when it goes', async () => {
    const path = nextPath();
    const s = await session(path);
    await s.mkdirp(path, 'world-read');
    const bad = await s.create(`${path}/json.info_`, Buffer.from('{not json'), 'ephemeral-sequential', 'world-read');
    await contend(path, 2);
    const d = await detector(path);
    assert.equal(d.leader, undefined);
    await s.remove(bad);
    await waitFor('master-2 leads', () => d.leader?.id === 'master-2', 2_000);
  });

  it('keeps detecting after its session expires', async () => {
    assert.ok(zk);
    const path = nextPath();
    const proxy = await zk.proxy();
    cleanups.push(() => proxy.close());
    const first = await contend(path, 1);
    const d = await LeaderDetector.create({ url: parseZkUrl(proxy.url(path)), ...TIMEOUTS });
    cleanups.push(() => d.close());
    assert.equal(d.leader?.id, 'master-1');
    proxy.cut();
    const cutAt = Date.now();
    // While cut off, the last leader is kept; meanwhile the leader changes.
    await first.session.close();
    await contend(path, 2);
    assert.equal(d.leader?.id, 'master-1');
    // Cut off longer than the session timeout, the detector's session expires server-side; it
    // learns so on reconnection and must make a new session.
    await waitFor('twice the session timeout since the cut', () => Date.now() - cutAt > 2 * TIMEOUTS.sessionTimeoutMs, 10_000, 50);
    proxy.restore();
    await waitFor('master-2 detected on a new session', () => d.leader?.id === 'master-2', 15_000);
  });

  it('findLeader: one shot for the CLI', async () => {
    assert.ok(zk);
    const path = nextPath();
    await contend(path, 4);
    const leader = await findLeader(zk.url(path), { timeoutMs: 2_000 });
    assert.equal(leader.id, 'master-4');
    await assert.rejects(findLeader(zk.url(nextPath()), { timeoutMs: 200 }), (err: unknown) => err instanceof ZkError && err.code === 'NO_LEADER');
    await assert.rejects(findLeader('zk://127.0.0.1:99999/x'), (err: unknown) => err instanceof ZkError && err.code === 'BAD_ZK_URL');
    const port = await freePort();
    await assert.rejects(findLeader(`zk://127.0.0.1:${port}/x`, { connectTimeoutMs: 500 }), (err: unknown) => err instanceof ZkError && err.code === 'ZK_UNREACHABLE');
  });
});
