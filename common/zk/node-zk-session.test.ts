import assert from 'node:assert/strict';
import { freePort } from '../../integration-tests/harness/ports.js';
import { waitFor } from '../wait-for.js';
import { ZkError } from './errors.js';
import { connectZk } from './node-zk-session.js';
import { startTestZooKeeper, type ZooKeeperServer } from './zk-test-server.js';
import { parseZkUrl } from './zk-url.js';
import type { ZkSession, ZkSessionState } from './zk-session.js';

const SESSION = { sessionTimeoutMs: 2_000, connectTimeoutMs: 5_000 };

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<ZkError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ZkError, `expected a ZkError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

describe('connectZk (node-zookeeper-client on a real ZooKeeper)', function () {
  this.timeout(30_000);
  let zk: ZooKeeperServer | undefined;
  const sessions: ZkSession[] = [];

  async function session(path = '/test', credentials?: { user: string; password: string }): Promise<ZkSession> {
    assert.ok(zk);
    const s = await connectZk(parseZkUrl(zk.url(path, credentials)), SESSION);
    sessions.push(s);
    return s;
  }

  before(async function () {
    zk = await startTestZooKeeper(this);
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
  });
  after(async () => {
    await zk?.destroy();
  });

  it('creates, reads, lists and removes znodes', async () => {
    const s = await session();
    assert.equal(s.state, 'connected');
    assert.ok(s.sessionTimeoutMs >= 400 && s.sessionTimeoutMs <= 2_000, `negotiated ${s.sessionTimeoutMs}`);
    await s.mkdirp('/crud/a/b', 'world-read');
    await s.mkdirp('/crud/a/b', 'world-read'); // existing is fine
    assert.equal(await s.create('/crud/a/b/n', Buffer.from('hello'), 'persistent', 'private'), '/crud/a/b/n');
    const node = await s.getData('/crud/a/b/n');
    assert.equal(node?.data.toString(), 'hello');
    assert.equal(node?.version, 0);
    assert.deepEqual(await s.getChildren('/crud/a'), ['b']);
    assert.equal(await s.getData('/crud/missing'), undefined);
    assert.equal(await s.exists('/crud/a/b/n'), true);
    await rejectsWithCode(s.create('/crud/a/b/n', Buffer.alloc(0), 'persistent', 'private'), 'ZK_NODE_EXISTS');
    await rejectsWithCode(s.getChildren('/crud/nope'), 'ZK_NO_NODE');
    await rejectsWithCode(s.remove('/crud/a/b/n', 7), 'ZK_BAD_VERSION');
    await s.remove('/crud/a/b/n');
    assert.equal(await s.exists('/crud/a/b/n'), false);
    const seq = await s.create('/crud/a/json.info_', Buffer.from('{}'), 'ephemeral-sequential', 'world-read');
    assert.match(seq, /^\/crud\/a\/json\.info_\d{10}$/);
  });

  it('fires one-shot watches on children, data and existence', async () => {
    const s = await session();
    await s.mkdirp('/watch', 'world-read');
    let childFires = 0;
    await s.getChildren('/watch', () => childFires++);
    let existsFired = 0;
    assert.equal(await s.exists('/watch/x', () => existsFired++), false);
    let missingDataFired = 0;
    assert.equal(await s.getData('/watch/y', () => missingDataFired++), undefined);
    await s.create('/watch/x', Buffer.from('1'), 'persistent', 'world-read');
    await waitFor('children and exists watches', () => childFires === 1 && existsFired === 1, 5_000);
    let dataFires = 0;
    await s.getData('/watch/x', () => dataFires++);
    await s.transaction([{ op: 'set', path: '/watch/x', data: Buffer.from('2') }]);
    await waitFor('data watch', () => dataFires === 1, 5_000);
    await s.create('/watch/y', Buffer.alloc(0), 'persistent', 'world-read');
    await waitFor('watch on a missing node fires on creation', () => missingDataFired === 1, 5_000);
    // One-shot: more changes fire nothing more.
    await s.create('/watch/z', Buffer.alloc(0), 'persistent', 'world-read');
    await s.remove('/watch/x');
    const marker = await s.exists('/watch/z');
    assert.ok(marker);
    assert.equal(childFires, 1);
    assert.equal(dataFires, 1);
    assert.equal(missingDataFired, 1);
  });

  it('applies a transaction all or nothing', async () => {
    const s = await session();
    await s.mkdirp('/tx', 'world-read');
    await s.transaction([
      { op: 'create', path: '/tx/a', data: Buffer.from('a'), acl: 'private' },
      { op: 'create', path: '/tx/b', data: Buffer.from('b'), acl: 'private' },
    ]);
    const failed = await rejectsWithCode(
      s.transaction([
        { op: 'create', path: '/tx/c', data: Buffer.from('c'), acl: 'private' },
        { op: 'set', path: '/tx/a', data: Buffer.from('a2') },
        { op: 'check', path: '/tx/b', version: 5 },
      ]),
      'ZK_BAD_VERSION',
    );
    assert.equal(failed.path, '/tx/b');
    assert.equal(await s.exists('/tx/c'), false, 'nothing of the failed transaction was created');
    assert.equal((await s.getData('/tx/a'))?.data.toString(), 'a', 'nothing of the failed transaction was set');
    await s.transaction([
      { op: 'check', path: '/tx/b', version: 0 },
      { op: 'remove', path: '/tx/a' },
    ]);
    assert.equal(await s.exists('/tx/a'), false);
  });

  it('removes ephemeral znodes when the session closes', async () => {
    const owner = await session();
    const observer = await session();
    await owner.mkdirp('/eph', 'world-read');
    await owner.create('/eph/me', Buffer.alloc(0), 'ephemeral', 'world-read');
    assert.equal(await observer.exists('/eph/me'), true);
    await owner.close();
    assert.equal(owner.state, 'closed');
    assert.equal(await observer.exists('/eph/me'), false);
    await rejectsWithCode(owner.exists('/eph'), 'ZK_CONNECTION_LOSS');
  });

  it('enforces digest ACLs: world-read is readable by others, private is not', async () => {
    const owner = await session('/secure', { user: 'tessera', password: 's3cr/et@1' });
    const stranger = await session('/secure', { user: 'tessera', password: 'wrong' });
    await owner.mkdirp('/secure', 'world-read');
    await owner.create('/secure/json.info_', Buffer.from('leader'), 'ephemeral-sequential', 'world-read');
    await owner.create('/secure/registry', Buffer.from('secret'), 'persistent', 'private');
    const children = await stranger.getChildren('/secure');
    assert.equal(children.length, 2);
    const info = children.find((c) => c.startsWith('json.info_'));
    assert.ok(info);
    assert.equal((await stranger.getData(`/secure/${info}`))?.data.toString(), 'leader');
    const noCreate = await rejectsWithCode(stranger.create('/secure/intruder', Buffer.alloc(0), 'persistent', 'private'), 'ZK_NO_AUTH');
    assert.match(noCreate.message, /not authorised — check the credentials in the zk:\/\/ URL/);
    assert.match(noCreate.message, /\/secure\/intruder/);
    await rejectsWithCode(stranger.getData('/secure/registry'), 'ZK_NO_AUTH');
    assert.equal((await owner.getData('/secure/registry'))?.data.toString(), 'secret');
    // mkdirp over an existing, read-only parent does not trip over NO_AUTH.
    await owner.mkdirp('/secure/registry', 'private');
  });

  it('fails with ZK_UNREACHABLE within about connectTimeout when nothing listens', async () => {
    const port = await freePort();
    const started = Date.now();
    const err = await rejectsWithCode(connectZk(parseZkUrl(`zk://127.0.0.1:${port}/x`), { connectTimeoutMs: 1_000 }), 'ZK_UNREACHABLE');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900 && elapsed < 3_000, `took ${elapsed} ms`);
    assert.ok(err.retryable);
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  });

  it('keeps the session across a ZooKeeper restart within the session timeout', async () => {
    assert.ok(zk);
    // A long session timeout, so a slow JVM start on a busy host stays within it.
    const s = await connectZk(parseZkUrl(zk.url('/restart')), { ...SESSION, sessionTimeoutMs: 15_000 });
    sessions.push(s);
    await s.mkdirp('/restart', 'world-read');
    await s.create('/restart/mine', Buffer.alloc(0), 'ephemeral', 'world-read');
    await zk.restart();
    await waitFor(`reconnected (state now: ${s.state})`, () => s.state === 'connected' && s.exists('/restart/mine'), 15_000);
    assert.equal(s.state, 'connected');
  });

  it('reports disconnected, then expired when cut off from ZooKeeper longer than the session timeout', async () => {
    assert.ok(zk);
    // ZooKeeper restores sessions when it restarts, so expiry needs the client cut off while the
    // server keeps running (and counting).
    const proxy = await zk.proxy();
    try {
      const s = await connectZk(parseZkUrl(proxy.url('/expiry')), SESSION);
      sessions.push(s);
      const states: ZkSessionState[] = [];
      s.onStateChange((state) => states.push(state));
      await s.mkdirp('/expiry', 'world-read');
      await s.create('/expiry/mine', Buffer.alloc(0), 'ephemeral', 'world-read');
      const watcher = await session('/expiry');
      proxy.cut();
      await waitFor('disconnected', () => s.state === 'disconnected', 5_000);
      await rejectsWithCode(s.exists('/expiry'), 'ZK_CONNECTION_LOSS');
      // The server expires the session and deletes its ephemeral znode.
      await waitFor('the ephemeral znode to go', async () => !(await watcher.exists('/expiry/mine')), 10_000);
      proxy.restore();
      await waitFor('expired', () => s.state === 'expired', 10_000);
      assert.deepEqual(states, ['disconnected', 'expired']);
      await rejectsWithCode(s.exists('/expiry'), 'ZK_SESSION_EXPIRED');
    } finally {
      await proxy.close();
    }
  });
});
