// ZkRegistry against a real ZooKeeper (Debian's package, through the integration harness).
import assert from 'node:assert/strict';
import {
  connectZk,
  parseZkUrl,
  silentLogger,
  type ZkOp,
  type ZkSession,
} from '../../common/index.js';
import { ZooKeeperServer } from '../../integration-tests/harness/zookeeper.js';
import { ZkRegistry, type AdmittedAgent, type RegistryState, type TaskRecord } from './index.js';

/** Delegates to a real session and records every transaction's ops. */
function recording(session: ZkSession, transactions: ZkOp[][]): ZkSession {
  return {
    get sessionTimeoutMs() {
      return session.sessionTimeoutMs;
    },
    get state() {
      return session.state;
    },
    onStateChange: (listener) => session.onStateChange(listener),
    create: (path, data, mode, acl) => session.create(path, data, mode, acl),
    mkdirp: (path, acl) => session.mkdirp(path, acl),
    getChildren: (path, watch) => session.getChildren(path, watch),
    getData: (path, watch) => session.getData(path, watch),
    exists: (path, watch) => session.exists(path, watch),
    remove: (path, version) => session.remove(path, version),
    transaction: (ops) => {
      transactions.push([...ops]);
      return session.transaction(ops);
    },
    close: () => session.close(),
  };
}

function agent(i: number): AdmittedAgent {
  return {
    id: `agent-${String(i).padStart(5, '0')}`,
    registered_at: 1_700_000_000 + i / 10,
    info: {
      hostname: `host-${i}.example`,
      ip: `10.0.${Math.floor(i / 250)}.${i % 250}`,
      port: 5051,
      resources: { cpus: 8, mem: 32_768, disk: 100_000 },
      executors: ['command', 'docker'],
      isolation: 'cgroups-v1',
    },
  };
}

function task(i: number, agentId?: string): TaskRecord {
  const record: TaskRecord = {
    task_id: `web.${String(i).padStart(12, '0')}`,
    submitted_at: 1_700_000_100 + i / 10,
    submission: { name: 'web', resources: { cpus: 0.5, mem: 64 }, command: { value: `sleep ${i}` } },
  };
  if (agentId !== undefined) record.agent_id = agentId;
  return record;
}

describe('ZkRegistry (real ZooKeeper)', function () {
  this.timeout(30_000);
  let zk: ZooKeeperServer | undefined;
  const sessions: ZkSession[] = [];
  let counter = 0;
  let base = '';

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

  beforeEach(() => {
    counter += 1;
    base = `/registry-${process.pid}-${counter}`;
  });

  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close().catch(() => undefined)));
  });

  async function session(): Promise<ZkSession> {
    if (!zk) throw new Error('no ZooKeeper');
    const s = await connectZk(parseZkUrl(zk.url(base)), { sessionTimeoutMs: 2_000, connectTimeoutMs: 2_000, logger: silentLogger });
    sessions.push(s);
    return s;
  }

  async function registry(options: { shards?: number; fencePath?: string; transactions?: ZkOp[][] } = {}): Promise<ZkRegistry> {
    const real = await session();
    return ZkRegistry.create({
      session: options.transactions ? recording(real, options.transactions) : real,
      basePath: base,
      logger: silentLogger,
      ...(options.shards === undefined ? {} : { shards: options.shards }),
      ...(options.fencePath === undefined ? {} : { fencePath: options.fencePath }),
    });
  }

  it('loads an empty state when nothing was saved', async () => {
    const r = await registry();
    assert.deepEqual(await r.load(), { agents: [], tasks: [], frameworks: [] });
  });

  it('round-trips agents and tasks (with and without agent_id) through a fresh registry', async () => {
    const state: RegistryState = {
      agents: [agent(2), agent(1)],
      tasks: [task(3, 'agent-00001'), task(1), task(2, 'agent-00002')],
      frameworks: [
        { id: 'fw-2', name: 'marathon', user: 'root', role: 'web', failover_timeout: 604800, registered_at: 2, principal: 'ops' },
        { id: 'fw-1', name: 'chronos', user: 'root', role: '*', failover_timeout: 0, registered_at: 1 },
      ],
    };
    const first = await registry({ shards: 8 });
    await first.save(state);
    const second = await registry({ shards: 64 }); // the stored count (8) wins
    assert.equal(second.shards, 8);
    const loaded = await second.load();
    // Agents by registered_at then id, tasks by submitted_at then task_id.
    assert.deepEqual(loaded, {
      agents: [agent(1), agent(2)],
      tasks: [task(1), task(2, 'agent-00002'), task(3, 'agent-00001')],
      frameworks: [state.frameworks[1], state.frameworks[0]],
    });
    assert.equal(loaded.tasks[0]?.agent_id, undefined);
    assert.equal('agent_id' in (loaded.tasks[0] ?? {}), false);
  });

  it('holds 1,000 agents and 1,000 tasks; a change to one agent writes one shard, no change writes nothing', async () => {
    const agents = Array.from({ length: 1_000 }, (_, i) => agent(i));
    const tasks = Array.from({ length: 1_000 }, (_, i) => task(i, i % 2 === 0 ? agents[i]?.id : undefined));
    const writer = await registry();
    await writer.save({ agents, tasks, frameworks: [] });

    const transactions: ZkOp[][] = [];
    const fence = `${base}/fence`;
    const fenceSession = await session();
    await fenceSession.create(fence, Buffer.alloc(0), 'ephemeral', 'world-read');
    const reader = await registry({ transactions, fencePath: fence });
    const loaded = await reader.load();
    assert.equal(loaded.agents.length, 1_000);
    assert.equal(loaded.tasks.length, 1_000);
    assert.deepEqual(loaded, { agents, tasks, frameworks: [] });

    await reader.save(loaded);
    assert.equal(transactions.length, 0, 'an unchanged save must not talk to ZooKeeper');

    const changed = structuredClone(loaded);
    const target = changed.agents[500];
    assert.ok(target);
    target.info.hostname = 'renamed.example';
    await reader.save(changed);
    assert.equal(transactions.length, 1);
    const ops = transactions[0] ?? [];
    assert.deepEqual(ops.map((op) => op.op), ['check', 'set']);
    assert.equal(ops[0]?.path, fence);
    assert.equal(ops[1]?.path, reader.agentShardPath(target.id));

    const again = await (await registry()).load();
    assert.equal(again.agents.find((a) => a.id === target.id)?.info.hostname, 'renamed.example');
    assert.deepEqual(again, changed);
  });

  it('splits a save larger than ~800 KB over several transactions, each under 1 MB, and loads it back', async () => {
    const transactions: ZkOp[][] = [];
    const agents = Array.from({ length: 10_000 }, (_, i) => agent(i));
    const r = await registry({ transactions });
    await r.save({ agents, tasks: [], frameworks: [] });
    assert.ok(transactions.length > 1, `one transaction for ${agents.length} agents`);
    for (const ops of transactions) {
      const bytes = ops.reduce((sum, op) => sum + (op.op === 'create' || op.op === 'set' ? op.data.length : 0), 0);
      assert.ok(bytes < 900 * 1024, `a transaction carried ${bytes} bytes`);
    }
    const loaded = await (await registry()).load();
    assert.equal(loaded.agents.length, 10_000);
    assert.deepEqual(loaded.agents, agents);
  });

  it('fails a save once the fence znode is gone, and changes nothing', async () => {
    const fenceSession = await session();
    await fenceSession.mkdirp(base, 'world-read');
    const fence = await fenceSession.create(`${base}/json.info_`, Buffer.from('{}'), 'ephemeral-sequential', 'world-read');
    const r = await registry({ fencePath: fence });
    const before: RegistryState = { agents: [agent(1)], tasks: [task(1)], frameworks: [] };
    await r.save(before);
    // The leader's session ends (deposed): its znode goes with it.
    await fenceSession.close();
    await assert.rejects(r.save({ agents: [agent(1), agent(2)], tasks: [], frameworks: [] }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'REGISTRY_FAILED');
      assert.match(err.message, /fencing/);
      return true;
    });
    assert.deepEqual(await (await registry()).load(), before);
  });

  it('refuses to load a damaged shard instead of starting empty', async () => {
    const r = await registry({ shards: 4 });
    await r.save({ agents: [agent(1), agent(2), agent(3)], tasks: [task(1)], frameworks: [] });
    const admin = await session();
    const path = r.agentShardPath('agent-00001');
    await admin.transaction([{ op: 'set', path, data: Buffer.from('{"version":1,"entries":[') }]);
    await assert.rejects((await registry()).load(), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'REGISTRY_FAILED');
      assert.ok(err.message.includes(path), err.message);
      return true;
    });
    // Valid JSON, invalid entry: also refused.
    await admin.transaction([{ op: 'set', path, data: Buffer.from('{"version":1,"entries":[{"id":"x"}]}') }]);
    await assert.rejects((await registry()).load(), { code: 'REGISTRY_FAILED' });
  });
});
