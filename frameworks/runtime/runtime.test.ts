// FrameworkInstance and the state stores: a file store on a temp dir, and election + fenced state on
// a real ZooKeeper (the e2e harness's server).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectZk, parseZkUrl, silentLogger, waitFor, type ZkSession } from '../../common/index.js';
import { ZooKeeperServer } from '../../integration-tests/harness/zookeeper.js';
import { FileStateStore, FrameworkInstance, RuntimeError, ZkStateStore, type StateStore } from './index.js';

function isRuntimeError(code: string): (err: unknown) => boolean {
  return (err: unknown) => err instanceof RuntimeError && err.code === code;
}

/** What every StateStore must do; `store` starts empty. */
async function checkStoreContract(store: StateStore): Promise<void> {
  assert.equal(await store.get('apps/web'), undefined);
  assert.deepEqual(await store.list(''), []);
  await store.put('apps/web', { id: 'web', instances: 2 });
  await store.put('apps/group/api', { id: '/group/api' });
  await store.put('apps', { marker: true }); // a key may also have keys below it
  await store.put('jobs/nightly backup', ['a', 1, null]);
  await store.put('framework-id', 'abc-123');
  assert.deepEqual(await store.get('apps/web'), { id: 'web', instances: 2 });
  assert.deepEqual(await store.get('jobs/nightly backup'), ['a', 1, null]);
  assert.equal(await store.get('framework-id'), 'abc-123');
  assert.deepEqual(await store.list('apps'), ['apps/group/api', 'apps/web']);
  assert.deepEqual(await store.list('apps/'), ['apps/group/api', 'apps/web']);
  assert.deepEqual(await store.list(''), ['apps', 'apps/group/api', 'apps/web', 'framework-id', 'jobs/nightly backup']);
  assert.deepEqual(await store.list('nothing'), []);
  // Overwrite; values are copies, not shared objects.
  const value = { id: 'web', instances: 3 };
  await store.put('apps/web', value);
  value.instances = 99;
  assert.deepEqual(await store.get('apps/web'), { id: 'web', instances: 3 });
  // Delete: the inner key keeps the deeper ones; deleting twice is fine.
  await store.delete('apps');
  assert.equal(await store.get('apps'), undefined);
  assert.deepEqual(await store.list('apps'), ['apps/group/api', 'apps/web']);
  await store.delete('apps/web');
  await store.delete('apps/web');
  assert.deepEqual(await store.list('apps'), ['apps/group/api']);
  // Bad keys and values are refused, naming the problem.
  await assert.rejects(store.put('', 1), isRuntimeError('BAD_KEY'));
  await assert.rejects(store.put('/apps', 1), isRuntimeError('BAD_KEY'));
  await assert.rejects(store.put('a//b', 1), isRuntimeError('BAD_KEY'));
  await assert.rejects(store.put('a/../b', 1), isRuntimeError('BAD_KEY'));
  await assert.rejects(store.put('a', undefined), isRuntimeError('BAD_VALUE'));
  // Many writes at once all land.
  await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(`many/k${i}`, i)));
  assert.equal((await store.list('many')).length, 20);
}

describe('framework runtime: file state (no ZooKeeper)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-fw-runtime-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps the StateStore contract', async () => {
    await checkStoreContract(await FileStateStore.open(join(dir, 'state.json')));
  });

  it('a single instance leads, and its state survives a restart of the process', async () => {
    const address = { host: '127.0.0.1', port: 8080 };
    const first = await FrameworkInstance.create({ workDir: dir, instanceId: 'one', address, logger: silentLogger });
    assert.equal(first.leading, true);
    const heard: boolean[] = [];
    first.onLeadership((leading) => heard.push(leading));
    await waitFor('leadership announced', () => heard.length > 0);
    assert.deepEqual(heard, [true]);
    assert.equal(first.leaderAddress(), '127.0.0.1:8080');
    await first.store.put('apps/web', { instances: 2 });
    await first.close();
    assert.deepEqual(heard, [true, false]);
    assert.equal(first.leading, false);
    await assert.rejects(first.store.put('apps/web', { instances: 3 }), isRuntimeError('NOT_LEADING'));
    const onDisk = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as unknown;
    assert.deepEqual(onDisk, { version: 1, entries: { 'apps/web': { instances: 2 } } });

    const second = await FrameworkInstance.create({ workDir: dir, instanceId: 'two', address, logger: silentLogger });
    assert.deepEqual(await second.store.get('apps/web'), { instances: 2 });
    await second.close();
  });

  it('refuses options without zk or workDir, and a corrupt state file', async () => {
    await assert.rejects(
      FrameworkInstance.create({ instanceId: 'x', address: { host: '127.0.0.1', port: 1 }, logger: silentLogger }),
      isRuntimeError('BAD_OPTIONS'),
    );
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'state.json'), '{"not":"ours"}');
    await assert.rejects(FileStateStore.open(join(dir, 'state.json')), isRuntimeError('STATE_CORRUPT'));
  });
});

describe('framework runtime: election and fenced state in ZooKeeper', function () {
  this.timeout(60_000);
  let zk: ZooKeeperServer | undefined;
  const opened: Array<{ close(): Promise<void> }> = [];

  before(async function () {
    this.timeout(60_000);
    const available = await ZooKeeperServer.available();
    if (!available.ok) {
      if (process.env.CI === 'true') throw new Error(`ZooKeeper is required in CI: ${available.reason}`);
      console.log(`      skipped: ${available.reason}`);
      this.skip();
    }
    zk = await ZooKeeperServer.start();
  });

  afterEach(async () => {
    for (const item of opened.splice(0).reverse()) await item.close().catch(() => undefined);
  });

  after(async function () {
    this.timeout(30_000);
    await zk?.destroy();
  });

  function freshUrl(): string {
    return zk!.url(`/fw-${randomBytes(4).toString('hex')}`);
  }

  async function instance(url: string, name: string, port: number): Promise<FrameworkInstance> {
    const created = await FrameworkInstance.create({
      zk: url,
      instanceId: name,
      address: { host: '127.0.0.1', port },
      logger: silentLogger,
      sessionTimeoutMs: 2_000,
    });
    opened.push(created);
    return created;
  }

  async function session(url: string): Promise<ZkSession> {
    const s = await connectZk(parseZkUrl(url));
    opened.push(s);
    return s;
  }

  it('two instances: one leads, the other points at it; the leader keeps the StateStore contract', async () => {
    const url = freshUrl();
    const a = await instance(url, 'a', 8001);
    const b = await instance(url, 'b', 8002);
    assert.equal(a.leading, true, 'the first instance leads');
    assert.equal(b.leading, false);
    assert.equal(a.leaderAddress(), '127.0.0.1:8001');
    await waitFor('b sees a as the leader', () => b.leaderAddress() === '127.0.0.1:8001');
    await assert.rejects(b.store.put('x', 1), isRuntimeError('NOT_LEADING'));
    await checkStoreContract(a.store);
    // The state sits where the layout says, one znode per key, with the value's JSON.
    const raw = await (await session(url)).getData(`${parseZkUrl(url).path}/state/jobs/nightly%20backup`);
    assert.deepEqual(JSON.parse(raw?.data.toString('utf8') ?? 'null'), ['a', 1, null]);
  });

  it('when the leader closes, the other instance leads and reads what the first wrote', async () => {
    const url = freshUrl();
    const a = await instance(url, 'a', 8001);
    const b = await instance(url, 'b', 8002);
    const bHeard: boolean[] = [];
    b.onLeadership((leading) => bHeard.push(leading));
    await a.store.put('framework-id', 'fw-1');
    await a.store.put('apps/web', { instances: 3 });
    await a.close();
    await waitFor('b leads', () => b.leading, 10_000);
    assert.deepEqual(bHeard, [true]);
    assert.equal(b.leaderAddress(), '127.0.0.1:8002');
    assert.equal(await b.store.get('framework-id'), 'fw-1');
    assert.deepEqual(await b.store.get('apps/web'), { instances: 3 });
    await b.store.put('apps/web', { instances: 4 });
    assert.deepEqual(await b.store.get('apps/web'), { instances: 4 });
  });

  it('a deposed instance cannot write: its put fails and the successor’s state is untouched', async () => {
    const url = freshUrl();
    const a = await instance(url, 'a', 8001);
    const b = await instance(url, 'b', 8002);
    await a.store.put('apps/web', { instances: 1 });
    const aHeard: boolean[] = [];
    a.onLeadership((leading) => aHeard.push(leading));
    await waitFor('a announced', () => aHeard.length === 1);
    // Take a's election znode away behind its back, as an expired session would.
    const outside = await session(url);
    const electionDir = `${parseZkUrl(url).path}/leader`;
    const [lowest] = (await outside.getChildren(electionDir)).sort();
    await outside.remove(`${electionDir}/${lowest ?? ''}`);
    await waitFor('b leads', () => b.leading, 10_000);
    await waitFor('a hears it was deposed', () => aHeard.at(-1) === false, 10_000);
    assert.equal(a.leading, false);
    await assert.rejects(a.store.put('apps/web', { instances: 100 }), (err: unknown) => err instanceof RuntimeError && (err.code === 'NOT_LEADING' || err.code === 'FENCED'));
    assert.deepEqual(await b.store.get('apps/web'), { instances: 1 });
  });

  it('ZooKeeper itself refuses a write once the fence znode is gone (the check in the transaction)', async () => {
    const url = freshUrl();
    const base = parseZkUrl(url).path;
    const s = await session(url);
    await s.mkdirp(`${base}/leader`, 'world-read');
    const fencePath = await s.create(`${base}/leader/json.info_`, Buffer.from('{}'), 'ephemeral-sequential', 'world-read');
    const store = new ZkStateStore(`${base}/state`);
    store.setFence({ session: s, fencePath });
    await store.put('apps/web', { v: 1 });
    // The store still believes it is fenced correctly; only ZooKeeper knows better.
    await s.remove(fencePath);
    await assert.rejects(store.put('apps/new/deep', { v: 2 }), isRuntimeError('FENCED'));
    // Once fenced, the store refuses by itself; a store that still holds the dead fence is refused by ZooKeeper.
    await assert.rejects(store.put('apps/web', { v: 2 }), isRuntimeError('NOT_LEADING'));
    const stale = (): ZkStateStore => {
      const other = new ZkStateStore(`${base}/state`);
      other.setFence({ session: s, fencePath });
      return other;
    };
    await assert.rejects(stale().put('apps/web', { v: 3 }), isRuntimeError('FENCED'));
    await assert.rejects(stale().delete('apps/web'), isRuntimeError('FENCED'));
    const node = await s.getData(`${base}/state/apps/web`);
    assert.deepEqual(JSON.parse(node?.data.toString('utf8') ?? 'null'), { v: 1 });
    assert.equal(await s.exists(`${base}/state/apps/new`), false, 'nothing of the refused transaction was applied');
  });
});
