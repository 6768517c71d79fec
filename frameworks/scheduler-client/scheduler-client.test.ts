// The scheduler client against real Tessera masters and agents run as processes by the e2e harness
// (a standalone master with one agent; an HA cluster on a real ZooKeeper), and its pure pieces alone.
import assert from 'node:assert/strict';
import { silentLogger, waitFor, type MesosOffer, type MesosTaskInfo, type MesosTaskStatus } from '../../common/index.js';
import { TestCluster } from '../../integration-tests/harness/cluster.js';
import { HaCluster } from '../../integration-tests/harness/ha-cluster.js';
import { ZooKeeperServer } from '../../integration-tests/harness/zookeeper.js';
import { SchedulerClient, SchedulerClientError, type SchedulerClientOptions } from './index.js';
import { parseMasterAddress, redirectBase } from './master-address.js';

/** Everything a client told its handlers, with waits that have deadlines. */
class Recorder {
  readonly subscribed: string[] = [];
  readonly disconnected: string[] = [];
  readonly errors: string[] = [];
  readonly updates: MesosTaskStatus[] = [];
  private offers: MesosOffer[] = [];

  constructor(readonly client: SchedulerClient) {
    client.on('subscribed', (id) => this.subscribed.push(id));
    client.on('disconnected', (reason) => {
      this.disconnected.push(reason);
      this.offers = []; // offers die with the subscription
    });
    client.on('error', (message) => this.errors.push(message));
    client.on('update', (status) => {
      this.updates.push(status);
    });
    client.on('offers', (offers) => this.offers.push(...offers));
    client.on('rescind', (id) => (this.offers = this.offers.filter((o) => o.id.value !== id)));
  }

  /** Takes one offer (the others are declined with no filter so they come back). */
  async takeOffer(timeoutMs = 15_000): Promise<MesosOffer> {
    const offer = await waitFor('an offer', () => this.offers.shift(), timeoutMs);
    const rest = this.offers.splice(0);
    if (rest.length > 0) await this.client.decline(rest.map((o) => o.id.value), 0);
    return offer;
  }

  update(taskId: string, state: string, timeoutMs = 20_000, reason?: string): Promise<MesosTaskStatus> {
    return waitFor(
      `${taskId} in ${state}${reason ? ` (${reason})` : ''}; got ${this.updates.filter((u) => u.task_id.value === taskId).map((u) => u.state).join(', ')}`,
      () => this.updates.find((u) => u.task_id.value === taskId && u.state === state && (reason === undefined || u.reason === reason)),
      timeoutMs,
    );
  }
}

function commandTask(offer: MesosOffer, taskId: string, command: string): MesosTaskInfo {
  return {
    name: taskId,
    task_id: { value: taskId },
    agent_id: offer.agent_id,
    resources: [
      { name: 'cpus', type: 'SCALAR', scalar: { value: 0.1 } },
      { name: 'mem', type: 'SCALAR', scalar: { value: 32 } },
    ],
    command: { shell: true, value: command },
  };
}

function options(master: string, extra: Partial<SchedulerClientOptions> = {}): SchedulerClientOptions {
  return { master, frameworkInfo: { name: 'client-test', failover_timeout: 3600 }, logger: silentLogger, ...extra };
}

describe('scheduler client: pure parts', () => {
  it('parses master addresses', () => {
    assert.deepEqual(parseMasterAddress('127.0.0.1:5050'), { kind: 'fixed', base: 'http://127.0.0.1:5050' });
    assert.deepEqual(parseMasterAddress('http://m1:5050/'), { kind: 'fixed', base: 'http://m1:5050' });
    const zk = parseMasterAddress('zk://127.0.0.1:2181/tessera');
    assert.equal(zk.kind, 'zk');
    assert.throws(() => parseMasterAddress('https://m1:5050'), (err: unknown) => err instanceof SchedulerClientError && err.code === 'BAD_MASTER');
    assert.throws(() => parseMasterAddress('m1'), /names no port/);
  });

  it("resolves Mesos's protocol-relative Location", () => {
    assert.equal(redirectBase('//10.0.0.2:5050/api/v1/scheduler', 'http://10.0.0.1:5050/api/v1/scheduler'), 'http://10.0.0.2:5050');
    assert.equal(redirectBase('http://10.0.0.3:5051/x', 'http://10.0.0.1:5050/api/v1/scheduler'), 'http://10.0.0.3:5051');
  });

  it('rejects calls naming the state when not subscribed', async () => {
    const client = new SchedulerClient(options('127.0.0.1:1'));
    await assert.rejects(client.revive(), (err: unknown) => err instanceof SchedulerClientError && err.code === 'NOT_CONNECTED' && /idle/.test(err.message));
    client.start();
    await assert.rejects(client.decline(['x']), (err: unknown) => err instanceof SchedulerClientError && /connecting/.test(err.message) && err.retryable);
    await client.stop();
    await assert.rejects(client.kill('t'), /stopped/);
  });
});

describe('scheduler client against a real master and agent', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  const clients: SchedulerClient[] = [];

  before(async function () {
    this.timeout(60_000);
    cluster = await TestCluster.start({ agents: 1 });
  });

  // A subscribed framework holds whatever it was offered: stop each test's clients so the next test
  // gets the agent's resources (a stopped client's framework is deactivated and its offers go back).
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.stop();
  });

  after(async function () {
    this.timeout(60_000);
    await cluster?.stop();
  });

  function client(extra: Partial<SchedulerClientOptions> = {}): { client: SchedulerClient; events: Recorder } {
    const c = new SchedulerClient(options(cluster.masterUrl, extra));
    clients.push(c);
    const events = new Recorder(c);
    c.start();
    return { client: c, events };
  }

  it('subscribes, launches a command task, sees RUNNING and FINISHED (auto-acknowledged), reconciles', async () => {
    const { client: c, events } = client();
    const id = await waitFor('SUBSCRIBED', () => events.subscribed[0]);
    assert.equal(c.frameworkId, id);
    assert.equal(c.connected, true);
    const offer = await events.takeOffer();
    await c.accept([offer.id.value], [commandTask(offer, 'short', 'echo hello')], 0);
    await events.update('short', 'TASK_RUNNING');
    // The agent sends a task's next update only once the previous one was acknowledged: FINISHED
    // arriving proves the automatic ACKNOWLEDGE of every earlier update reached the agent.
    const finished = await events.update('short', 'TASK_FINISHED');
    assert.ok(finished.uuid);
    await c.reconcile([{ taskId: 'short', agentId: offer.agent_id.value }]);
    const answer = await events.update('short', 'TASK_FINISHED', 10_000, 'REASON_RECONCILIATION');
    assert.equal(answer.uuid, undefined);
    await c.reconcile([{ taskId: 'never-launched' }]);
    await events.update('never-launched', 'TASK_LOST', 10_000);
    // A reconciliation answer has no uuid: acknowledging it is refused clearly, not sent.
    await assert.rejects(c.acknowledge(answer), (err: unknown) => err instanceof SchedulerClientError && err.code === 'NOT_ACKNOWLEDGEABLE');
  });

  it('kills a running task', async () => {
    const { client: c, events } = client();
    await waitFor('SUBSCRIBED', () => events.subscribed[0]);
    const offer = await events.takeOffer();
    await c.accept([offer.id.value], [commandTask(offer, 'sleeper', 'sleep 60')]);
    await events.update('sleeper', 'TASK_RUNNING');
    await c.kill('sleeper', offer.agent_id.value);
    await events.update('sleeper', 'TASK_KILLED');
  });

  it('with autoAcknowledge off, the next update waits for an explicit ACKNOWLEDGE', async () => {
    const { client: c, events } = client({ autoAcknowledge: false });
    await waitFor('SUBSCRIBED', () => events.subscribed[0]);
    const offer = await events.takeOffer();
    await c.accept([offer.id.value], [commandTask(offer, 'manual', 'echo hi')]);
    // Acknowledge each update only when it arrives; FINISHED can only come after the RUNNING ack.
    const seen = new Set<string>();
    const acked: string[] = [];
    await waitFor('TASK_FINISHED after manual acks', async () => {
      for (const status of events.updates.filter((u) => u.task_id.value === 'manual' && u.uuid !== undefined)) {
        if (seen.has(status.uuid ?? '')) continue;
        seen.add(status.uuid ?? '');
        if (status.state === 'TASK_FINISHED') return true;
        await c.acknowledge(status);
        acked.push(status.state);
      }
      return undefined;
    }, 20_000);
    assert.ok(acked.includes('TASK_RUNNING'), `acknowledged: ${acked.join(', ')}`);
  });

  it('re-subscribes with the same framework id after the master restarts, and waits for handler promises before acknowledging', async () => {
    const { client: c, events } = client();
    const id = await waitFor('SUBSCRIBED', () => events.subscribed[0]);
    await cluster.master?.crash();
    await waitFor('disconnected', () => events.disconnected[0]);
    assert.equal(c.connected, false);
    await assert.rejects(c.revive(), (err: unknown) => err instanceof SchedulerClientError && err.code === 'NOT_CONNECTED');
    await cluster.startMaster();
    await waitFor('re-SUBSCRIBED', () => events.subscribed[1], 20_000);
    assert.equal(events.subscribed[1], id);
    assert.equal(c.frameworkId, id);
    await cluster.waitForAgents(1);
    // An async handler: its promise settles before the update is acknowledged.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    c.on('update', (status) => (status.task_id.value === 'gated' && status.state === 'TASK_RUNNING' ? gate : undefined));
    const offer = await events.takeOffer(20_000);
    await c.accept([offer.id.value], [commandTask(offer, 'gated', 'echo gated')]);
    await events.update('gated', 'TASK_RUNNING');
    // Not acknowledged yet: FINISHED must not come while the handler's promise is pending.
    const finishedEarly = await waitFor('FINISHED', () => events.updates.find((u) => u.task_id.value === 'gated' && u.state === 'TASK_FINISHED'), 1_500).catch(() => undefined);
    assert.equal(finishedEarly, undefined, 'FINISHED arrived although RUNNING was not acknowledged');
    release();
    await events.update('gated', 'TASK_FINISHED');
  });
});

describe('scheduler client against highly available masters (real ZooKeeper)', function () {
  this.timeout(90_000);
  let cluster: HaCluster | undefined;
  const clients: SchedulerClient[] = [];

  before(async function () {
    this.timeout(90_000);
    const available = await ZooKeeperServer.available();
    if (!available.ok) {
      if (process.env.CI === 'true') throw new Error(`ZooKeeper is required in CI: ${available.reason}`);
      console.log(`      skipped: ${available.reason}`);
      this.skip();
    }
    cluster = await HaCluster.start({ masters: 2, agents: 1 });
  });

  // A subscribed framework holds whatever it was offered: stop each test's clients so the next test
  // gets the agent's resources (a stopped client's framework is deactivated and its offers go back).
  afterEach(async () => {
    for (const client of clients.splice(0)) await client.stop();
  });

  after(async function () {
    this.timeout(60_000);
    await cluster?.stop();
  });

  it('follows a follower’s 307 to the leader', async () => {
    const ha = cluster!;
    const leader = await ha.waitForLeader();
    const follower = ha.masters.find((m) => m !== leader && m.running)!;
    const c = new SchedulerClient(options(`127.0.0.1:${follower.port}`));
    clients.push(c);
    const events = new Recorder(c);
    c.start();
    await waitFor('SUBSCRIBED via a follower', () => events.subscribed[0]);
    await c.revive();
    const offer = await events.takeOffer();
    await c.decline([offer.id.value], 0);
  });

  it('finds the leader in ZooKeeper and re-subscribes to the new leader with the same id when the old one is SIGKILLed', async () => {
    const ha = cluster!;
    const c = new SchedulerClient(options(ha.zkUrl));
    clients.push(c);
    const events = new Recorder(c);
    c.start();
    const id = await waitFor('SUBSCRIBED', () => events.subscribed[0]);
    const offer = await events.takeOffer();
    await c.accept([offer.id.value], [commandTask(offer, 'survivor', 'sleep 60')]);
    await events.update('survivor', 'TASK_RUNNING');
    const leader = await ha.waitForLeader();
    await leader.daemon?.crash();
    const next = await ha.waitForLeader(30_000, leader);
    await waitFor('re-SUBSCRIBED to the new leader', () => events.subscribed[1], 30_000);
    assert.equal(events.subscribed[1], id);
    assert.ok(events.disconnected.length >= 1);
    assert.notEqual(next, leader);
    // The new leader knows the framework's task: reconciliation answers RUNNING.
    await waitFor('reconciled RUNNING', async () => {
      await c.reconcile([{ taskId: 'survivor' }]);
      return events.updates.find((u) => u.task_id.value === 'survivor' && u.reason === 'REASON_RECONCILIATION' && u.state === 'TASK_RUNNING');
    }, 30_000, 1_000);
    await c.kill('survivor');
    await events.update('survivor', 'TASK_KILLED', 30_000);
  });
});
