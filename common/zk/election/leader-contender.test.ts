// LeaderContender against a real ZooKeeper (Debian's package, through the integration harness).
import assert from 'node:assert/strict';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import {
  connectZk,
  masterInfoFor,
  serializeMasterInfo,
  parseZkUrl,
  silentLogger,
  waitFor,
  type ZkSession,
} from '../../index.js';
import { freePort } from '../../../integration-tests/harness/ports.js';
import { ZooKeeperServer } from '../../../integration-tests/harness/zookeeper.js';
import { LeaderContender, type ElectionEvent } from './index.js';

const SESSION_TIMEOUT_MS = 2_000;

/** A session that records which paths it set watches on (to see who watches whom). */
function recordingConnect(watched: string[]): typeof connectZk {
  return async (url, options) => {
    const session = await connectZk(url, options);
    const wrapper: ZkSession = {
      get sessionTimeoutMs() {
        return session.sessionTimeoutMs;
      },
      get state() {
        return session.state;
      },
      onStateChange: (listener) => session.onStateChange(listener),
      create: (path, data, mode, acl) => session.create(path, data, mode, acl),
      mkdirp: (path, acl) => session.mkdirp(path, acl),
      getChildren: (path, watch) => {
        if (watch) watched.push(`children:${path}`);
        return session.getChildren(path, watch);
      },
      getData: (path, watch) => {
        if (watch) watched.push(path);
        return session.getData(path, watch);
      },
      exists: (path, watch) => {
        if (watch) watched.push(path);
        return session.exists(path, watch);
      },
      remove: (path, version) => session.remove(path, version),
      transaction: (ops) => session.transaction(ops),
      close: () => session.close(),
    };
    return wrapper;
  };
}

/**
 * A TCP relay to ZooKeeper that can go silent: it keeps every connection open but drops what
 * passes, like a network partition that loses packets (no reset, so no 'disconnected' from the
 * client library).
 */
class SilentableProxy {
  silent = false;
  port = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  private constructor(targetPort: number) {
    this.server = createServer((client) => {
      const upstream = tcpConnect({ host: '127.0.0.1', port: targetPort });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.on('data', (chunk) => {
        if (!this.silent) upstream.write(chunk);
      });
      upstream.on('data', (chunk) => {
        if (!this.silent) client.write(chunk);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
  }

  static async start(targetPort: number): Promise<SilentableProxy> {
    const proxy = new SilentableProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const address = proxy.server.address();
    proxy.port = typeof address === 'object' && address ? address.port : 0;
    return proxy;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface Contestant {
  contender: LeaderContender;
  events: ElectionEvent[];
  watched: string[];
}

describe('LeaderContender (real ZooKeeper)', function () {
  this.timeout(30_000);
  let zk: ZooKeeperServer | undefined;
  let made: LeaderContender[] = [];
  let pathCounter = 0;

  before(async function () {
    const available = await ZooKeeperServer.available();
    if (!available.ok) {
      if (process.env.CI === 'true') throw new Error(`ZooKeeper is required in CI: ${available.reason}`);
      console.log(`    skipped: ${available.reason}`);
      this.skip();
    }
    zk = await ZooKeeperServer.start({ tickTimeMs: 200 });
  });

  after(async () => {
    await zk?.destroy();
  });

  afterEach(async () => {
    await Promise.all(made.map((c) => c.close()));
    made = [];
    // A test that stopped the server must leave it running for the next one.
    if (zk && !zk.running) await zk.restart();
  });

  function server(): ZooKeeperServer {
    if (!zk) throw new Error('no ZooKeeper');
    return zk;
  }

  async function contend(path: string, name: string, extra: { sessionTimeoutMs?: number; port?: number } = {}): Promise<Contestant> {
    const events: ElectionEvent[] = [];
    const watched: string[] = [];
    const port = 5050 + made.length;
    const contender = await LeaderContender.create({
      url: parseZkUrl(extra.port === undefined ? server().url(path) : `zk://127.0.0.1:${extra.port}${path}`),
      id: name,
      data: serializeMasterInfo(masterInfoFor({ id: name, hostname: 'localhost', ip: '127.0.0.1', port, version: 'test' })),
      sessionTimeoutMs: extra.sessionTimeoutMs ?? SESSION_TIMEOUT_MS,
      connectTimeoutMs: 2_000,
      logger: silentLogger,
      connect: recordingConnect(watched),
      retryMinMs: 50,
      retryMaxMs: 500,
    });
    made.push(contender);
    contender.onEvent((event) => events.push(event));
    return { contender, events, watched };
  }

  function freshPath(): string {
    pathCounter += 1;
    return `/election-${process.pid}-${pathCounter}`;
  }

  function leaders(all: Contestant[]): Contestant[] {
    return all.filter((c) => c.contender.leading);
  }

  it('elects exactly one of three, the lowest, and tells it through "elected"', async () => {
    const path = freshPath();
    const a = await contend(path, 'a');
    const b = await contend(path, 'b');
    const c = await contend(path, 'c');
    assert.equal(a.contender.leading, true);
    assert.equal(a.contender.state, 'leading');
    assert.equal(b.contender.leading, false);
    assert.equal(c.contender.leading, false);
    assert.equal(b.contender.state, 'contending');
    const elected = await waitFor('a hears elected', () => a.events.find((e) => e.kind === 'elected'), 2_000);
    assert.equal(elected.kind === 'elected' && elected.fencePath, a.contender.znode);
    assert.match(a.contender.znode ?? '', new RegExp(`^${path}/json\\.info_\\d{10}$`));
    assert.deepEqual(b.events, []);
    assert.deepEqual(c.events, []);
    // Each non-leader watches only its predecessor: no one watches the child list (no herd effect).
    assert.deepEqual(b.watched, [a.contender.znode]);
    assert.deepEqual(c.watched, [b.contender.znode]);
  });

  it('elects the next one within about a second when the leader closes, and only that one', async () => {
    const path = freshPath();
    const all = [await contend(path, 'a'), await contend(path, 'b'), await contend(path, 'c')];
    const [a, b, c] = all as [Contestant, Contestant, Contestant];
    const started = Date.now();
    await a.contender.close();
    await waitFor('b to lead', () => b.contender.leading, 3_000, 10);
    const tookMs = Date.now() - started;
    assert.ok(tookMs < 1_500, `the successor took ${tookMs} ms`);
    assert.deepEqual(leaders(all), [b]);
    assert.equal(c.contender.state, 'contending');
    assert.equal(b.events[0]?.kind, 'elected');
    assert.deepEqual(a.events.map((e) => e.kind), ['elected', 'deposed']);
  });

  it('elects nobody new when a non-leader predecessor goes; its successor then watches the leader', async () => {
    const path = freshPath();
    const all = [await contend(path, 'a'), await contend(path, 'b'), await contend(path, 'c')];
    const [a, b, c] = all as [Contestant, Contestant, Contestant];
    const leaderZnode = a.contender.znode;
    assert.ok(leaderZnode);
    await b.contender.close();
    // c notices b is gone and moves its watch to a: the proof that it looked again.
    await waitFor('c to watch a', () => c.watched.includes(leaderZnode), 3_000, 10);
    assert.deepEqual(leaders(all), [a]);
    assert.equal(c.contender.state, 'contending');
    assert.deepEqual(c.events, []);
    assert.deepEqual(a.events.map((e) => e.kind), ['elected']);
  });

  it('suspends the leader as soon as ZooKeeper goes, deposes it after the session timeout, then elects one again', async () => {
    const path = freshPath();
    const all = [await contend(path, 'a'), await contend(path, 'b')];
    const [a, b] = all as [Contestant, Contestant];
    assert.equal(a.contender.leading, true);
    // Sample all along: two leaders at once is the one thing that must never happen.
    let both = false;
    const sampler = setInterval(() => {
      if (a.contender.leading && b.contender.leading) both = true;
    }, 5);
    try {
      const stoppedAt = Date.now();
      await server().stop();
      await waitFor('a suspended', () => a.events.some((e) => e.kind === 'suspended'), 6_000, 5);
      const suspendedAfter = Date.now() - stoppedAt;
      assert.ok(suspendedAfter < 1_000, `suspended only after ${suspendedAfter} ms`);
      assert.equal(a.contender.leading, false);
      assert.equal(a.contender.state, 'suspended');
      await waitFor('a deposed', () => a.events.some((e) => e.kind === 'deposed'), SESSION_TIMEOUT_MS * 3, 10);
      assert.equal(a.contender.leading, false);
      assert.equal(b.contender.leading, false);
      await server().restart();
      const leader = await waitFor('one leader again', () => leaders(all)[0], 15_000, 20);
      assert.deepEqual(leaders(all), [leader]);
      assert.deepEqual(a.events.slice(0, 3).map((e) => e.kind), ['elected', 'suspended', 'deposed']);
      const elected = leader.events.filter((e) => e.kind === 'elected').at(-1);
      assert.ok(elected?.kind === 'elected');
      assert.equal(elected.fencePath, leader.contender.znode);
      assert.equal(elected.session.state, 'connected');
      assert.equal(both, false, 'two contenders were leading at the same time');
    } finally {
      clearInterval(sampler);
    }
  });

  it('suspends and deposes a leader cut off by a silent partition before anyone else is elected', async () => {
    const path = freshPath();
    const proxy = await SilentableProxy.start(server().port);
    try {
      const a = await contend(path, 'a', { port: proxy.port });
      const b = await contend(path, 'b');
      const all = [a, b];
      assert.equal(a.contender.leading, true);
      let both = false;
      // The safety property, checked at the very moment b hears it leads: a must not lead then.
      let aLeadingWhenBElected: boolean | undefined;
      b.contender.onEvent((event) => {
        if (event.kind === 'elected' && aLeadingWhenBElected === undefined) aLeadingWhenBElected = a.contender.leading;
      });
      const sampler = setInterval(() => {
        if (a.contender.leading && b.contender.leading) both = true;
      }, 2);
      try {
        proxy.silent = true;
        // Safety is the ordering checked below (a stops before b starts); these deadlines only bound the wait.
        await waitFor('a suspended', () => a.events.some((e) => e.kind === 'suspended'), SESSION_TIMEOUT_MS * 3, 5);
        await waitFor('a deposed', () => a.events.some((e) => e.kind === 'deposed'), SESSION_TIMEOUT_MS * 4, 5);
        // ZooKeeper expires a's session (it hears nothing) and b, watching it, takes over.
        await waitFor('b to lead', () => b.contender.leading, SESSION_TIMEOUT_MS * 4, 10);
        assert.equal(aLeadingWhenBElected, false, 'a had stopped leading when b was elected');
        assert.deepEqual(leaders(all), [b]);
        assert.equal(both, false, 'two contenders were leading at the same time');
        // The partition heals: a comes back as a follower.
        proxy.silent = false;
        await waitFor('a contending again', () => a.contender.state === 'contending', 15_000, 20);
        assert.deepEqual(leaders(all), [b]);
      } finally {
        clearInterval(sampler);
      }
    } finally {
      await proxy.close();
    }
  });

  it('resumes the same term when the link comes back within the session timeout', async function () {
    this.timeout(60_000);
    const path = freshPath();
    // A long session outlives the restart of the server (which keeps sessions in its data dir),
    // however slowly its JVM stops and starts on a busy machine.
    const a = await contend(path, 'a', { sessionTimeoutMs: 40_000 });
    const b = await contend(path, 'b', { sessionTimeoutMs: 40_000 });
    const znode = a.contender.znode;
    await server().stop();
    await waitFor('a suspended', () => a.events.some((e) => e.kind === 'suspended'), 6_000, 5);
    await server().restart();
    await waitFor('a resumed', () => a.events.some((e) => e.kind === 'resumed'), 35_000, 10);
    assert.deepEqual(a.events.map((e) => e.kind), ['elected', 'suspended', 'resumed']);
    assert.equal(a.contender.leading, true);
    assert.equal(a.contender.znode, znode);
    assert.equal(b.contender.leading, false);
  });

  it('gives a successor the lead at once when the leader was deposed by deleting its znode', async () => {
    const path = freshPath();
    const all = [await contend(path, 'a'), await contend(path, 'b')];
    const [a, b] = all as [Contestant, Contestant];
    const admin = await connectZk(parseZkUrl(server().url(path)), { sessionTimeoutMs: SESSION_TIMEOUT_MS, connectTimeoutMs: 2_000, logger: silentLogger });
    try {
      await admin.remove(a.contender.znode ?? '');
    } finally {
      await admin.close();
    }
    await waitFor('b to lead', () => b.contender.leading, 3_000, 10);
    await waitFor('a deposed', () => a.events.some((e) => e.kind === 'deposed'), 3_000, 10);
    // a contends again behind b with a new znode.
    await waitFor('a contending', () => a.contender.state === 'contending' && a.contender.znode !== undefined, 3_000, 10);
    assert.deepEqual(leaders(all), [b]);
  });

  it('rejects with ZK_NO_AUTH when the credentials do not own the election path', async () => {
    const path = freshPath();
    const owner = await LeaderContender.create({
      url: parseZkUrl(server().url(path, { user: 'alice', password: 'secret' })),
      id: 'owner',
      data: serializeMasterInfo(masterInfoFor({ id: 'owner', hostname: 'localhost', ip: '127.0.0.1', port: 5050, version: 'test' })),
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      logger: silentLogger,
    });
    made.push(owner);
    assert.equal(owner.leading, true);
    await assert.rejects(
      LeaderContender.create({
        url: parseZkUrl(server().url(path, { user: 'mallory', password: 'guess' })),
        id: 'intruder',
      data: serializeMasterInfo(masterInfoFor({ id: 'intruder', hostname: 'localhost', ip: '127.0.0.1', port: 5051, version: 'test' })),
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        logger: silentLogger,
      }),
      { code: 'ZK_NO_AUTH' },
    );
    assert.equal(owner.leading, true);
  });

  it('rejects fast with ZK_UNREACHABLE when nothing listens', async () => {
    const port = await freePort();
    const started = Date.now();
    await assert.rejects(
      LeaderContender.create({
        url: parseZkUrl(`zk://127.0.0.1:${port}/tessera`),
        id: 'lonely',
      data: serializeMasterInfo(masterInfoFor({ id: 'lonely', hostname: 'localhost', ip: '127.0.0.1', port: 5050, version: 'test' })),
        sessionTimeoutMs: SESSION_TIMEOUT_MS,
        connectTimeoutMs: 1_000,
        logger: silentLogger,
      }),
      { code: 'ZK_UNREACHABLE' },
    );
    const tookMs = Date.now() - started;
    assert.ok(tookMs < 3_000, `took ${tookMs} ms`);
  });
});
