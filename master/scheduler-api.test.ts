// The Mesos v1 scheduler API on a real Master (port 0) with fake agents: offers, accept, updates and
// acknowledgements passed to the agent, kill, reconcile, decline filters, rescinds, failover timeout.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, waitFor } from '../common/index.js';
import { Master, type MasterOptions } from './index.js';
import { postCall, subscribeRaw, type RawSubscription } from './scheduler/test-client.js';
import { FakeAgent } from './testing/fake-agent.js';

type Json = Record<string, unknown>;

interface Offer {
  id: { value: string };
  agent_id: { value: string };
  hostname: string;
  resources: Array<{ name: string; type: string; scalar?: { value: number }; ranges?: { range: Array<{ begin: number; end: number }> } }>;
  attributes?: unknown[];
}

const frameworkInfo = (extra: Json = {}): Json => ({ user: 'root', name: 'test-framework', ...extra });

describe('Mesos v1 scheduler API (real master, fake agents)', function () {
  this.timeout(20_000);
  let workDir: string;
  let master: Master;
  let agent: FakeAgent;
  const subscriptions: RawSubscription[] = [];

  async function start(options: Partial<MasterOptions> = {}): Promise<void> {
    master = await Master.create({ port: 0, host: '127.0.0.1', workDir, logger: silentLogger, allocationIntervalMs: 100, ...options });
    agent = await FakeAgent.start({
      masterUrl: master.url,
      resources: { cpus: 4, mem: 4096, disk: 1000, ports: [{ begin: 31000, end: 31009 }] },
      executors: ['command', 'docker'],
      attributes: { rack: 'r1', gpus: 2 },
    });
    await agent.register();
  }

  async function subscribe(info: Json = frameworkInfo(), extra: Json = {}): Promise<{ sub: RawSubscription; frameworkId: string }> {
    const sub = await subscribeRaw(master.port, { type: 'SUBSCRIBE', subscribe: { framework_info: info }, ...extra });
    subscriptions.push(sub);
    assert.equal(sub.status, 200, sub.errorBody);
    const subscribed = await sub.next();
    assert.equal(subscribed.type, 'SUBSCRIBED');
    const frameworkId = ((subscribed.subscribed as Json).framework_id as { value: string }).value;
    return { sub, frameworkId };
  }

  async function call(sub: RawSubscription, body: Json): Promise<{ status: number; body: string }> {
    return postCall(master.port, body, { headers: { 'Mesos-Stream-Id': sub.streamId ?? '' } });
  }

  async function nextOffer(sub: RawSubscription, timeoutMs = 5000): Promise<Offer> {
    const event = await sub.nextOfType('OFFERS', timeoutMs);
    const offers = (event.offers as { offers: Offer[] }).offers;
    assert.ok(offers.length > 0);
    return offers[0]!;
  }

  async function nextUpdate(sub: RawSubscription, state?: string): Promise<Json> {
    for (;;) {
      const event = await sub.nextOfType('UPDATE', 5000);
      const status = (event.update as { status: Json }).status;
      if (state === undefined || status.state === state) return status;
    }
  }

  function launch(frameworkId: string, offer: Offer, taskId: string, resources: Json[]): Json {
    return {
      type: 'ACCEPT',
      framework_id: { value: frameworkId },
      accept: {
        offer_ids: [offer.id],
        operations: [
          {
            type: 'LAUNCH',
            launch: {
              task_infos: [{ name: taskId, task_id: { value: taskId }, agent_id: offer.agent_id, resources, command: { value: 'sleep 100' } }],
            },
          },
        ],
        filters: { refuse_seconds: 0 },
      },
    };
  }

  const cpusMem = (cpus: number, mem: number): Json[] => [
    { name: 'cpus', type: 'SCALAR', scalar: { value: cpus } },
    { name: 'mem', type: 'SCALAR', scalar: { value: mem } },
  ];

  beforeEach(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'tessera-scheduler-'));
  });
  afterEach(async () => {
    for (const sub of subscriptions.splice(0)) sub.close();
    await agent?.close();
    await master?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('offers the agent attributes, shows them in /master/state, carries health_check to the agent and healthy to the framework', async () => {
    await start();
    const { sub, frameworkId } = await subscribe();
    const offer = await nextOffer(sub);
    assert.deepEqual(offer.attributes, [
      { name: 'rack', type: 'TEXT', text: { value: 'r1' } },
      { name: 'gpus', type: 'SCALAR', scalar: { value: 2 } },
    ]);
    const state = (await (await fetch(`${master.url}/master/state`)).json()) as { slaves: Array<{ attributes: unknown }> };
    assert.deepEqual(state.slaves[0]?.attributes, { rack: 'r1', gpus: 2 });

    const health_check = { type: 'COMMAND', command: { value: 'test -f up' }, delay_seconds: 0, interval_seconds: 0.5, consecutive_failures: 2 };
    const body = launch(frameworkId, offer, 'checked', cpusMem(0.5, 64)) as { accept: { operations: Array<{ launch: { task_infos: Json[] } }> } };
    const bad = structuredClone(body);
    Object.assign(bad.accept.operations[0]!.launch.task_infos[0]!, { health_check: { ...health_check, interval_seconds: -1 } });
    const refused = await call(sub, bad as unknown as Json);
    assert.equal(refused.status, 400, refused.body);
    assert.match(refused.body, /accept\.operations\[0\]\.launch\.task_infos\[0\]\.health_check\.interval_seconds/);

    Object.assign(body.accept.operations[0]!.launch.task_infos[0]!, { health_check });
    const accepted = await call(sub, body as unknown as Json);
    assert.equal(accepted.status, 202, accepted.body);
    await waitFor('the agent got the launch', () => (agent.launched.length === 1 ? true : undefined));
    assert.deepEqual(agent.launched[0]?.health_check, { type: 'COMMAND', command: { value: 'test -f up' }, delay_seconds: 0, interval_seconds: 0.5, consecutive_failures: 2 });
    await nextUpdate(sub, 'TASK_RUNNING');
    await agent.sendStatus('checked', 'TASK_RUNNING', { reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED', healthy: false });
    const health = await nextUpdate(sub, 'TASK_RUNNING');
    assert.equal(health.healthy, false);
    assert.equal(health.reason, 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED');
    const view = (await (await fetch(`${master.url}/api/v1/tasks/checked`)).json()) as { healthy?: boolean };
    assert.equal(view.healthy, false);
  });

  it('offers the agent, launches on accept, forwards updates and passes acknowledgements to the agent', async () => {
    await start();
    const { sub, frameworkId } = await subscribe();
    const offer = await nextOffer(sub);
    assert.equal(offer.agent_id.value, agent.agentId);
    const byName = Object.fromEntries(offer.resources.map((r) => [r.name, r]));
    assert.deepEqual(byName.cpus?.scalar, { value: 4 });
    assert.deepEqual(byName.mem?.scalar, { value: 4096 });
    assert.deepEqual(byName.ports?.ranges, { range: [{ begin: 31000, end: 31009 }] });

    const accepted = await call(sub, launch(frameworkId, offer, 'web-1', [...cpusMem(1, 128), { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31000 }] } }]));
    assert.equal(accepted.status, 202, accepted.body);
    await waitFor('the agent got the launch', () => (agent.launched.length === 1 ? true : undefined));
    const launched = agent.launched[0]!;
    assert.equal(launched.framework_id, frameworkId);
    assert.deepEqual(launched.resources.ports, [{ begin: 31000, end: 31000 }]);

    const running = await nextUpdate(sub, 'TASK_RUNNING');
    assert.equal((running.task_id as { value: string }).value, 'web-1');
    assert.equal(typeof running.uuid, 'string', 'an agent update carries a uuid to acknowledge');
    // The master told the agent to wait for the framework: acknowledgements reach the agent.
    const ack = await call(sub, {
      type: 'ACKNOWLEDGE',
      framework_id: { value: frameworkId },
      acknowledge: { agent_id: { value: agent.agentId }, task_id: { value: 'web-1' }, uuid: running.uuid },
    });
    assert.equal(ack.status, 202, ack.body);
    await waitFor('the agent got the acknowledgement', () => (agent.acknowledgements.length > 0 ? true : undefined));
    const status = agent.tasks.get('web-1')?.status;
    assert.deepEqual(agent.acknowledgements.at(-1), { task_id: 'web-1', uuid: status?.uuid });
    const answer = await agent.sendStatus('web-1', 'TASK_RUNNING', { uuid: status?.uuid ?? '' });
    assert.equal(answer.received, status?.uuid, 'a framework task update is received, not acknowledged, by the master');
    const resent = await nextUpdate(sub, 'TASK_RUNNING');
    assert.equal(resent.uuid, running.uuid, 'an update the agent re-sends goes to the framework again');

    // Reconcile: a known task answers its state without uuid; an unknown one TASK_LOST.
    const reconcile = await call(sub, {
      type: 'RECONCILE',
      framework_id: { value: frameworkId },
      reconcile: { tasks: [{ task_id: { value: 'web-1' } }, { task_id: { value: 'nope' } }] },
    });
    assert.equal(reconcile.status, 202);
    const known = await nextUpdate(sub);
    assert.equal(known.state, 'TASK_RUNNING');
    assert.equal(known.reason, 'REASON_RECONCILIATION');
    assert.equal(known.uuid, undefined);
    const unknown = await nextUpdate(sub);
    assert.deepEqual([(unknown.task_id as { value: string }).value, unknown.state], ['nope', 'TASK_LOST']);

    const kill = await call(sub, { type: 'KILL', framework_id: { value: frameworkId }, kill: { task_id: { value: 'web-1' } } });
    assert.equal(kill.status, 202);
    await nextUpdate(sub, 'TASK_KILLED');
    assert.deepEqual(agent.kills.map((k) => k.taskId), ['web-1']);

    const state = (await (await fetch(`${master.url}/master/state`)).json()) as {
      frameworks: Array<{ id: string; name: string; active: boolean; role?: string; tasks: Array<{ id: string; state: string }> }>;
    };
    const listed = state.frameworks.find((f) => f.id === frameworkId);
    assert.deepEqual([listed?.name, listed?.active, listed?.role], ['test-framework', true, '*']);
    const snapshot = (await (await fetch(`${master.url}/metrics/snapshot`)).json()) as Record<string, number>;
    assert.equal(snapshot['master/frameworks_active'], 1);

    const teardown = await call(sub, { type: 'TEARDOWN', framework_id: { value: frameworkId } });
    assert.equal(teardown.status, 202);
    await sub.ended;
  });

  it('refuses calls without the right Mesos-Stream-Id, and from frameworks not subscribed', async () => {
    await start();
    const { sub, frameworkId } = await subscribe();
    const revive = { type: 'REVIVE', framework_id: { value: frameworkId } };
    assert.equal((await postCall(master.port, revive)).status, 400, 'no header');
    assert.equal((await postCall(master.port, revive, { headers: { 'Mesos-Stream-Id': 'other' } })).status, 400, 'wrong header');
    assert.equal((await call(sub, revive)).status, 202);
    const stranger = await postCall(master.port, { type: 'REVIVE', framework_id: { value: 'stranger' } }, { headers: { 'Mesos-Stream-Id': 'x' } });
    assert.equal(stranger.status, 403);
  });

  it('a launch bigger than the offer ends TASK_ERROR; a used offer cannot be used again (TASK_DROPPED)', async () => {
    await start();
    const { sub, frameworkId } = await subscribe();
    const offer = await nextOffer(sub);
    assert.equal((await call(sub, launch(frameworkId, offer, 'too-big', cpusMem(64, 128)))).status, 202);
    const error = await nextUpdate(sub, 'TASK_ERROR');
    assert.equal(error.reason, 'REASON_TASK_INVALID');
    assert.match(String(error.message), /more than the offers hold/);
    assert.equal((await call(sub, launch(frameworkId, offer, 'late', cpusMem(1, 64)))).status, 202);
    const dropped = await nextUpdate(sub, 'TASK_DROPPED');
    assert.equal(dropped.reason, 'REASON_INVALID_OFFERS');
    assert.deepEqual(agent.launched, []);
  });

  it('rescinds an offer nobody answered within the offer timeout', async () => {
    await start({ offerTimeoutMs: 300 });
    const { sub } = await subscribe();
    const offer = await nextOffer(sub);
    const rescind = await sub.nextOfType('RESCIND', 5000);
    assert.deepEqual((rescind.rescind as Json).offer_id, offer.id);
  });

  it('honours DECLINE refuse_seconds until REVIVE', async () => {
    await start();
    const { sub, frameworkId } = await subscribe();
    const offer = await nextOffer(sub);
    const declined = await call(sub, { type: 'DECLINE', framework_id: { value: frameworkId }, decline: { offer_ids: [offer.id], filters: { refuse_seconds: 3600 } } });
    assert.equal(declined.status, 202);
    // Ten allocation cycles (100 ms each) go by without the agent coming back to us.
    await assert.rejects(sub.nextOfType('OFFERS', 1000), /no event within/);
    assert.equal((await call(sub, { type: 'REVIVE', framework_id: { value: frameworkId } })).status, 202);
    assert.equal((await nextOffer(sub)).agent_id.value, agent.agentId);
  });

  it('keeps a disconnected framework’s tasks within failover_timeout, removes them after it', async () => {
    await start();
    const first = await subscribe(frameworkInfo({ failover_timeout: 1.5 }));
    const offer = await nextOffer(first.sub);
    await call(first.sub, launch(first.frameworkId, offer, 'keeper', cpusMem(1, 64)));
    await nextUpdate(first.sub, 'TASK_RUNNING');
    first.sub.close();
    // Back in time, with the same id: it keeps the task.
    const again = await subscribe(frameworkInfo({ failover_timeout: 1.5, id: { value: first.frameworkId } }));
    assert.equal(again.frameworkId, first.frameworkId);
    await call(again.sub, { type: 'RECONCILE', framework_id: { value: first.frameworkId }, reconcile: { tasks: [] } });
    assert.equal((await nextUpdate(again.sub)).state, 'TASK_RUNNING');
    assert.deepEqual(agent.kills, []);
    // Gone for longer than the timeout: its task is killed and it may not come back under that id.
    again.sub.close();
    await waitFor('the task killed after the failover timeout', () => (agent.kills.some((k) => k.taskId === 'keeper') ? true : undefined), 5000);
    const late = await subscribeRaw(master.port, { type: 'SUBSCRIBE', subscribe: { framework_info: frameworkInfo({ id: { value: first.frameworkId } }) } });
    subscriptions.push(late);
    assert.equal(late.status, 403);
  });

  it('runs task-API submissions through the built-in framework on the same offers', async () => {
    await start();
    const { sub, frameworkId } = await subscribe();
    const offer = await nextOffer(sub); // the framework holds all of the agent's resources now
    const response = await fetch(`${master.url}/api/v1/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'builtin', resources: { cpus: 1, mem: 64 }, command: { value: 'true' } }),
    });
    assert.equal(response.status, 201);
    const view = (await response.json()) as { task_id: string; state: string };
    assert.equal(view.state, 'TASK_STAGING', 'no resources free while the offer is out');
    assert.equal(agent.launched.length, 0);
    // Once the framework declines, the resources go round again and the waiting task gets its share.
    const declined = await call(sub, { type: 'DECLINE', framework_id: { value: frameworkId }, decline: { offer_ids: [offer.id], filters: { refuse_seconds: 60 } } });
    assert.equal(declined.status, 202);
    await waitFor('the built-in task launched', () => (agent.launched.some((t) => t.task_id === view.task_id) ? true : undefined));
    assert.equal(agent.launched.find((t) => t.task_id === view.task_id)?.framework_id, 'tessera-tasks');
  });

  it('with --credentials, refuses calls without valid HTTP Basic auth (401); with --roles, other roles (403)', async () => {
    await start({ credentials: new Map([['ops', 's3']]), roles: ['web'] });
    const body = { type: 'SUBSCRIBE', subscribe: { framework_info: frameworkInfo({ role: 'web' }) } };
    const anonymous = await subscribeRaw(master.port, body);
    subscriptions.push(anonymous);
    assert.equal(anonymous.status, 401);
    const auth = { authorization: `Basic ${Buffer.from('ops:s3').toString('base64')}` };
    const wrongRole = await subscribeRaw(master.port, { type: 'SUBSCRIBE', subscribe: { framework_info: frameworkInfo({ role: 'batch' }) } }, { headers: auth });
    subscriptions.push(wrongRole);
    assert.equal(wrongRole.status, 403);
    assert.match(wrongRole.errorBody ?? '', /role 'batch' is not allowed/);
    const ok = await subscribeRaw(master.port, body, { headers: auth });
    subscriptions.push(ok);
    assert.equal(ok.status, 200);
    assert.equal((await ok.next()).type, 'SUBSCRIBED');
  });

  it('holds a KILL of a task on an agent that has not re-registered after a restart, then kills it', async () => {
    await start();
    const first = await subscribe(frameworkInfo({ failover_timeout: 60 }));
    const offer = await nextOffer(first.sub);
    await call(first.sub, launch(first.frameworkId, offer, 'kept', cpusMem(1, 64)));
    await nextUpdate(first.sub, 'TASK_RUNNING');
    first.sub.close();
    await master.stop();
    // A new master on the same registry: the agent and the framework are known, the task is not (yet).
    master = await Master.create({ port: 0, host: '127.0.0.1', workDir, logger: silentLogger, allocationIntervalMs: 100 });
    (agent as unknown as { options: { masterUrl: string } }).options.masterUrl = master.url;
    const again = await subscribe(frameworkInfo({ failover_timeout: 60, id: { value: first.frameworkId } }));
    assert.equal((await call(again.sub, { type: 'KILL', framework_id: { value: first.frameworkId }, kill: { task_id: { value: 'kept' } } })).status, 202);
    await agent.register(); // it reports the task, so the held KILL goes to it
    await waitFor('the held kill reached the agent', () => (agent.kills.some((k) => k.taskId === 'kept') ? true : undefined));
    const killed = await nextUpdate(again.sub, 'TASK_KILLED');
    assert.equal((killed.task_id as { value: string }).value, 'kept');
  });
});
