// HTTP tests: a real Master on port 0 and small fake agents on node:http that speak the internal protocol.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INTERNAL_PATHS, createLogger, silentLogger, waitFor, type TaskState, type TaskStatus, type TaskView } from '../common/index.js';
import { Master, type MasterOptions } from './index.js';
import type { MetricsSnapshot } from './metrics.js';
import type { MasterState } from './operator-state.js';
import { FakeAgent, type FakeAgentOptions } from './testing/fake-agent.js';

interface Reply<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

async function call<T = unknown>(url: string, init: { method?: string; body?: unknown; raw?: string } = {}): Promise<Reply<T>> {
  const body = init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  const response = await fetch(url, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body,
  });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined; // not JSON (e.g. /metrics): tests read `text`
  }
  return { status: response.status, body: parsed as T, text, headers: response.headers };
}

const small = { cpus: 0.5, mem: 64 };

describe('Master over HTTP', function () {
  this.timeout(15_000);
  let workDir: string;
  const masters: Master[] = [];
  const agents: FakeAgent[] = [];

  async function startMaster(options: Partial<MasterOptions> = {}): Promise<Master> {
    const master = await Master.create({ port: 0, host: '127.0.0.1', workDir, logger: process.env.MASTER_TEST_LOG ? createLogger('master', 'debug') : silentLogger, ...options });
    masters.push(master);
    return master;
  }
  async function startAgent(master: Master, options: Partial<FakeAgentOptions> = {}): Promise<FakeAgent> {
    const agent = await FakeAgent.start({ masterUrl: master.url, resources: { cpus: 2, mem: 1024 }, ...options });
    agents.push(agent);
    return agent;
  }
  async function submit(master: Master, body: unknown): Promise<TaskView> {
    const reply = await call<TaskView>(`${master.url}/api/v1/tasks`, { body });
    assert.equal(reply.status, 201, reply.text);
    return reply.body;
  }
  function task(master: Master, id: string): Promise<TaskView> {
    return call<TaskView>(`${master.url}/api/v1/tasks/${id}`).then((r) => r.body);
  }
  function waitState(master: Master, id: string, state: TaskState): Promise<TaskView> {
    return waitFor(`${id} in ${state}`, async () => {
      const view = await task(master, id);
      return view.state === state ? view : undefined;
    });
  }
  function snapshot(master: Master): Promise<MetricsSnapshot> {
    return call<MetricsSnapshot>(`${master.url}/metrics/snapshot`).then((r) => r.body);
  }

  beforeEach(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'tessera-master-'));
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.close()));
    await Promise.all(masters.splice(0).map((m) => m.stop()));
    await rm(workDir, { recursive: true, force: true });
  });

  it('answers a blocking read (?index=N) at the task\'s next status, or when the wait runs out', async () => {
    const master = await startMaster();
    const agent = await startAgent(master, { onLaunch: ['TASK_STARTING'] });
    await agent.register();
    const submitted = await submit(master, { name: 'blocking', resources: small, command: { value: 'sleep 1' } });
    const url = `${master.url}/api/v1/tasks/${submitted.task_id}`;
    const starting = await waitState(master, submitted.task_id, 'TASK_STARTING');
    assert.equal(starting.statuses.length, 1);

    // Nothing new within the wait: answered as it is, after the wait and not before.
    let began = Date.now();
    const idle = await call<TaskView>(`${url}?index=1&wait=0.3`);
    assert.equal(idle.status, 200);
    assert.ok(Date.now() - began >= 250, `answered after ${Date.now() - began} ms`);
    assert.equal(idle.body.state, 'TASK_STARTING');
    assert.equal(idle.headers.get('x-tessera-index'), '1');

    // A status arriving during the wait answers the read at once.
    began = Date.now();
    const pending = call<TaskView>(`${url}?index=1&wait=20`);
    await new Promise((r) => setTimeout(r, 100));
    await agent.sendStatus(submitted.task_id, 'TASK_RUNNING');
    const woken = await pending;
    assert.ok(Date.now() - began < 5000, `answered after ${Date.now() - began} ms`);
    assert.equal(woken.body.state, 'TASK_RUNNING');
    assert.equal(woken.headers.get('x-tessera-index'), '2');

    // An index below what the task has answers at once; so does an ended task.
    assert.equal((await call<TaskView>(`${url}?index=0&wait=20`)).body.state, 'TASK_RUNNING');
    await agent.sendStatus(submitted.task_id, 'TASK_FINISHED');
    began = Date.now();
    assert.equal((await call<TaskView>(`${url}?index=99&wait=20`)).body.state, 'TASK_FINISHED');
    assert.ok(Date.now() - began < 5000);

    for (const [query, field] of [['index=-1', 'index'], ['index=x', 'index'], ['index=1&wait=-2', 'wait'], ['index=1&wait=9999', 'wait'], ['wait=3', 'wait']] as const) {
      const bad = await call<{ error: { field?: string } }>(`${url}?${query}`);
      assert.equal(bad.status, 400, query);
      assert.equal(bad.body.error.field, field, query);
    }
  });

  it('places a submitted task on an agent and follows it STARTING → RUNNING → FINISHED', async () => {
    const master = await startMaster();
    const agent = await startAgent(master);
    const registered = await agent.register();
    assert.equal(registered.heartbeat_interval_seconds, 5);
    assert.deepEqual(registered.kill_task_ids, []);
    assert.equal(typeof registered.master_id, 'string');

    const submitted = await submit(master, { name: 'hello', resources: small, command: { value: 'echo hi' } });
    assert.match(submitted.task_id, /^hello\.[0-9a-f]{12}$/);
    assert.equal(submitted.framework_id, 'tessera-tasks');
    assert.equal(submitted.state, 'TASK_STAGING');

    await waitFor('the launch', () => agent.launched.length === 1);
    const launched = agent.launched[0]!;
    assert.equal(launched.task_id, submitted.task_id);
    assert.equal(launched.agent_id, agent.agentId);
    assert.deepEqual(launched.command, { value: 'echo hi' });

    const running = await waitState(master, submitted.task_id, 'TASK_RUNNING');
    assert.deepEqual(running.statuses.map((s) => s.state), ['TASK_STARTING', 'TASK_RUNNING']);
    assert.deepEqual(running.agent, { id: agent.agentId, hostname: 'fake-agent', ip: '127.0.0.1', port: agent.port });
    assert.equal((await snapshot(master))['master/tasks_running'], 1);
    assert.equal((await snapshot(master))['master/cpus_used'], 0.5);

    const ack = await agent.sendStatus(submitted.task_id, 'TASK_FINISHED', { uuid: 'fin-1' });
    assert.deepEqual(ack, { acknowledged: 'fin-1' });
    const finished = await task(master, submitted.task_id);
    assert.equal(finished.state, 'TASK_FINISHED');
    // A retransmission of the same uuid is acknowledged and changes nothing.
    assert.deepEqual(await agent.sendStatus(submitted.task_id, 'TASK_FINISHED', { uuid: 'fin-1' }), { acknowledged: 'fin-1' });
    // An illegal transition is acknowledged too, and counted.
    await agent.sendStatus(submitted.task_id, 'TASK_RUNNING');
    const metrics = await snapshot(master);
    assert.equal(metrics['master/tasks_finished'], 1);
    assert.equal(metrics['master/tasks_running'], 0);
    assert.equal(metrics['master/invalid_status_updates'], 1);
    assert.equal((await task(master, submitted.task_id)).statuses.length, 3);

    const list = await call<{ tasks: TaskView[] }>(`${master.url}/api/v1/tasks?state=TASK_FINISHED`);
    assert.deepEqual(list.body.tasks.map((t) => t.task_id), [submitted.task_id]);
    const bad = await call(`${master.url}/api/v1/tasks?state=DONE`);
    assert.equal(bad.status, 400);

    const prom = await call(`${master.url}/metrics`);
    assert.match(prom.text, /^tessera_master_tasks_finished 1$/m);
    assert.match(prom.text, /^tessera_master_invalid_status_updates 1$/m);
  });

  it('applies a batch of status updates in order and acknowledges every uuid; a bad batch applies none', async () => {
    const master = await startMaster();
    const agent = await startAgent(master, { onLaunch: [] });
    const agentId = (await agent.register()).agent_id;
    const a = await submit(master, { name: 'a', resources: small, command: { value: 'true' } });
    const b = await submit(master, { name: 'b', resources: small, command: { value: 'true' } });
    await waitFor('both launched', () => agent.launched.length === 2);
    const url = `${master.url}${INTERNAL_PATHS.status(agentId)}`;
    const status = (taskId: string, state: TaskState, uuid: string): TaskStatus => ({
      task_id: taskId, agent_id: agentId, state, source: 'SOURCE_EXECUTOR', timestamp: Date.now() / 1000, uuid,
    });

    const first = await call<{ acknowledged: string[] }>(url, { body: { updates: [status(a.task_id, 'TASK_STARTING', 'a1'), status(b.task_id, 'TASK_STARTING', 'b1')] } });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.body, { acknowledged: ['a1', 'b1'] });
    // In order within a batch too; a repeated uuid is acknowledged again and changes nothing.
    const second = await call<{ acknowledged: string[] }>(url, {
      body: { updates: [status(a.task_id, 'TASK_RUNNING', 'a2'), status(a.task_id, 'TASK_FINISHED', 'a3'), status(b.task_id, 'TASK_STARTING', 'b1')] },
    });
    assert.deepEqual(second.body, { acknowledged: ['a2', 'a3', 'b1'] });
    assert.deepEqual((await task(master, a.task_id)).statuses.map((s) => s.state), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    assert.deepEqual((await task(master, b.task_id)).statuses.map((s) => s.state), ['TASK_STARTING']);

    // One malformed update: 400 naming it, and the valid one beside it is not applied either.
    const bad = await call<{ error: { code: string; field?: string } }>(url, {
      body: { updates: [status(b.task_id, 'TASK_RUNNING', 'b2'), { ...status(b.task_id, 'TASK_FINISHED', 'b3'), state: 'DONE' }] },
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'INVALID_REQUEST');
    assert.match(bad.body.error.field ?? '', /^updates\.1\.state$/);
    assert.equal((await task(master, b.task_id)).state, 'TASK_STARTING');
    assert.equal((await call(url, { body: { updates: [] } })).status, 400);
    // An unknown agent's batch is refused like its single updates.
    const stranger = await call<{ error: { code: string } }>(`${master.url}/internal/v1/agents/stranger/status`, { body: { updates: [status(b.task_id, 'TASK_RUNNING', 'b2')] } });
    assert.equal(stranger.status, 404);
    assert.equal(stranger.body.error.code, 'AGENT_UNKNOWN');
    // The single form still works.
    assert.deepEqual(await agent.sendStatus(b.task_id, 'TASK_RUNNING', { uuid: 'b2' }), { acknowledged: 'b2' });
  });

  it('keeps a task too big for every agent STAGING until a bigger agent registers', async () => {
    const master = await startMaster();
    const little = await startAgent(master, { resources: { cpus: 1, mem: 256 } });
    await little.register();
    const big = await submit(master, { name: 'big', resources: { cpus: 4, mem: 2048 }, command: { value: 'true' } });
    const docker = await submit(master, {
      name: 'boxed',
      resources: small,
      container: { type: 'DOCKER', docker: { image: 'tessera-test/busybox:latest' } },
    });
    const fits = await submit(master, { name: 'fits', resources: small, command: { value: 'true' } });
    await waitState(master, fits.task_id, 'TASK_RUNNING');
    const state = await call<MasterState>(`${master.url}/master/state`);
    assert.deepEqual(state.body.pending_tasks.map((t) => t.task_id).sort(), [big.task_id, docker.task_id].sort());
    assert.equal((await task(master, big.task_id)).state, 'TASK_STAGING');
    assert.equal((await task(master, big.task_id)).agent_id, undefined);
    assert.equal(little.launched.length, 1, 'the DOCKER task does not go to an agent without docker');

    const large = await startAgent(master, { resources: { cpus: 8, mem: 8192 }, executors: ['command', 'docker'] });
    await large.register();
    const placed = await waitState(master, big.task_id, 'TASK_RUNNING');
    assert.equal(placed.agent_id, large.agentId);
    assert.equal((await waitState(master, docker.task_id, 'TASK_RUNNING')).agent_id, large.agentId);
  });

  it('kills a pending task at once and a running one through its agent', async () => {
    const master = await startMaster();
    const pending = await submit(master, { name: 'waiting', resources: small, command: { value: 'sleep 100' } });
    const killed = await call<TaskView>(`${master.url}/api/v1/tasks/${pending.task_id}`, { method: 'DELETE' });
    assert.equal(killed.status, 202);
    assert.equal(killed.body.state, 'TASK_KILLED');
    assert.equal(killed.body.statuses[0]?.source, 'SOURCE_MASTER');
    const registry = JSON.parse(await readFile(join(workDir, 'master', 'registry.json'), 'utf8')) as { tasks: unknown[] };
    assert.deepEqual(registry.tasks, [], 'a killed pending task leaves the registry');

    const agent = await startAgent(master);
    await agent.register();
    const running = await submit(master, {
      name: 'runner',
      resources: small,
      command: { value: 'sleep 100' },
      kill_grace_period_seconds: 3,
    });
    await waitState(master, running.task_id, 'TASK_RUNNING');
    const reply = await call<TaskView>(`${master.url}/api/v1/tasks/${running.task_id}`, { method: 'DELETE' });
    assert.equal(reply.status, 202);
    assert.deepEqual(agent.kills, [{ taskId: running.task_id, body: { grace_period_seconds: 3 } }]);
    const done = await waitState(master, running.task_id, 'TASK_KILLED');
    assert.deepEqual(done.statuses.map((s) => s.state), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);

    const again = await call<TaskView>(`${master.url}/api/v1/tasks/${running.task_id}`, { method: 'DELETE' });
    assert.equal(again.status, 202);
    assert.equal(again.body.state, 'TASK_KILLED');
    assert.equal(agent.kills.length, 1, 'a terminal task is not killed again');
    const unknown = await call<{ error: { code: string } }>(`${master.url}/api/v1/tasks/nope.123`, { method: 'DELETE' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'NOT_FOUND');
  });

  it('answers 400 naming the field for bad submissions', async () => {
    const master = await startMaster();
    const cases: Array<{ body?: unknown; raw?: string; code: string; field?: string }> = [
      { body: { resources: small, command: { value: 'x' } }, code: 'INVALID_REQUEST', field: 'name' },
      { body: { name: 'a', resources: { cpus: 1, mem: -1 }, command: { value: 'x' } }, code: 'INVALID_REQUEST', field: 'resources.mem' },
      { body: { name: 'a', resources: { cpus: 'two', mem: 64 }, command: { value: 'x' } }, code: 'INVALID_REQUEST', field: 'resources.cpus' },
      { body: { name: 'a', resources: small, command: { value: 'x' }, colour: 'red' }, code: 'INVALID_REQUEST', field: 'colour' },
      { body: { name: 'a', resources: small }, code: 'INVALID_REQUEST', field: 'command.value' },
      { body: { name: 'a', resources: small, container: { type: 'MESOS' } }, code: 'INVALID_REQUEST', field: 'command.value' },
      { body: { name: 'a', resources: small, command: { shell: false, arguments: ['x'] } }, code: 'INVALID_REQUEST', field: 'command.value' },
      { body: { name: 'a', resources: small, container: { type: 'DOCKER' } }, code: 'INVALID_REQUEST', field: 'container.docker' },
      { raw: '{"name": "a", ', code: 'INVALID_JSON' },
      { raw: '', code: 'INVALID_REQUEST' },
    ];
    for (const c of cases) {
      const reply = await call<{ error: { code: string; message: string; field?: string } }>(`${master.url}/api/v1/tasks`, {
        method: 'POST',
        ...(c.raw === undefined ? { body: c.body } : { raw: c.raw }),
      });
      const label = c.raw ?? JSON.stringify(c.body);
      assert.equal(reply.status, 400, label);
      assert.equal(reply.body.error.code, c.code, label);
      assert.equal(reply.body.error.field, c.field, label);
      assert.equal(typeof reply.body.error.message, 'string');
    }
    const fine = await submit(master, {
      name: 'docker-only',
      resources: small,
      container: { type: 'DOCKER', docker: { image: 'tessera-test/busybox:latest' } },
    });
    assert.equal(fine.state, 'TASK_STAGING');
    // Internal bodies are validated with the common schemas too.
    const badRegister = await call<{ error: { field?: string } }>(`${master.url}${INTERNAL_PATHS.register}`, {
      body: { info: { hostname: 'h' }, tasks: [] },
    });
    assert.equal(badRegister.status, 400);
    assert.equal(badRegister.body.error.field, 'info.ip');
  });

  it('marks the tasks of a silent agent TASK_LOST, and tells it to kill them when it re-registers', async () => {
    const master = await startMaster({ agentTimeoutMs: 300 });
    const agent = await startAgent(master);
    await agent.register();
    agent.startHeartbeats(50);
    const view = await submit(master, { name: 'orphan', resources: small, command: { value: 'sleep 100' } });
    await waitState(master, view.task_id, 'TASK_RUNNING');
    // Heartbeats keep it alive well past the timeout.
    const aliveUntil = Date.now() + 600;
    await waitFor('time to pass with heartbeats', () => Date.now() > aliveUntil, 2000);
    assert.equal((await task(master, view.task_id)).state, 'TASK_RUNNING');

    agent.stopHeartbeats();
    const lost = await waitState(master, view.task_id, 'TASK_LOST');
    assert.equal(lost.reason, 'REASON_AGENT_DISCONNECTED');
    assert.equal(lost.statuses.at(-1)?.source, 'SOURCE_MASTER');
    assert.ok(lost.message);
    const metrics = await snapshot(master);
    assert.equal(metrics['master/slaves_unreachable'], 1);
    assert.equal(metrics['master/slaves_active'], 0);
    assert.equal(metrics['master/tasks_lost'], 1);

    const heartbeat = await call<{ error: { code: string } }>(`${master.url}${INTERNAL_PATHS.heartbeat(agent.agentId!)}`, { body: {} });
    assert.equal(heartbeat.status, 404);
    assert.equal(heartbeat.body.error.code, 'AGENT_UNKNOWN');

    const agentId = agent.agentId;
    const again = await agent.register();
    assert.equal(again.agent_id, agentId, 'the checkpointed id is kept');
    assert.deepEqual(again.kill_task_ids, [view.task_id]);
    assert.equal((await task(master, view.task_id)).state, 'TASK_LOST', 'LOST stays LOST');
    assert.equal((await snapshot(master))['master/slaves_active'], 1);
    // Its late TASK_KILLED is acknowledged without counting as invalid.
    await agent.sendStatus(view.task_id, 'TASK_KILLED');
    assert.equal((await snapshot(master))['master/invalid_status_updates'], 0);
  });

  it('sends a task back to pending when its agent refuses the connection', async () => {
    const master = await startMaster({ agentTimeoutMs: 60_000 });
    const gone = await startAgent(master);
    await gone.register();
    await gone.close();
    const view = await submit(master, { name: 'bounce', resources: small, command: { value: 'true' } });
    await waitFor('the task back in the queue', async () => {
      const state = await call<MasterState>(`${master.url}/master/state`);
      return state.body.pending_tasks.some((t) => t.task_id === view.task_id && t.agent_id === undefined);
    });
    const other = await startAgent(master);
    await other.register();
    const placed = await waitState(master, view.task_id, 'TASK_RUNNING');
    assert.equal(placed.agent_id, other.agentId);
  });

  it('keeps admitted agents and pending tasks across a master restart with the same workDir', async () => {
    const first = await startMaster({ agentTimeoutMs: 60_000 });
    const agent = await startAgent(first);
    await agent.register();
    const running = await submit(first, { name: 'survivor', resources: small, command: { value: 'sleep 100' } });
    await waitState(first, running.task_id, 'TASK_RUNNING');
    const waiting = await submit(first, { name: 'patient', resources: { cpus: 64, mem: 64 }, command: { value: 'true' } });
    await first.stop();
    masters.splice(masters.indexOf(first), 1);

    const second = await startMaster({ agentTimeoutMs: 60_000 });
    const state = (await call<MasterState>(`${second.url}/master/state`)).body;
    assert.deepEqual(state.slaves.map((s) => [s.id, s.active, s.status]), [[agent.agentId, false, 'recovering']]);
    assert.deepEqual(state.pending_tasks.map((t) => [t.task_id, t.state]), [[waiting.task_id, 'TASK_STAGING']]);
    const unsettled = await call<{ error: { code: string; message: string } }>(`${second.url}/api/v1/tasks/${running.task_id}`);
    assert.equal(unsettled.status, 503, 'a recorded task whose agent has not re-registered yet is known but not settled');
    assert.match(unsettled.body.error.message, /has not re-registered/);

    // The agent's heartbeat is refused, so it re-registers and reports its task.
    const beat = await call(`${second.url}${INTERNAL_PATHS.heartbeat(agent.agentId!)}`, { body: {} });
    assert.equal(beat.status, 404);
    (agent as unknown as { options: FakeAgentOptions }).options.masterUrl = second.url;
    const again = await agent.register();
    assert.deepEqual(again.kill_task_ids, []);
    const adopted = await task(second, running.task_id);
    assert.equal(adopted.state, 'TASK_RUNNING');
    assert.equal(adopted.agent_id, agent.agentId);
    assert.equal((await task(second, waiting.task_id)).state, 'TASK_STAGING');
    await agent.sendStatus(running.task_id, 'TASK_FINISHED');
    assert.equal((await task(second, running.task_id)).state, 'TASK_FINISHED');
  });

  it('serves /master/state, health and metrics in the Mesos shapes', async () => {
    const master = await startMaster();
    const agent = await startAgent(master, { executors: ['command', 'docker'] });
    await agent.register();
    const view = await submit(master, { name: 'shape', resources: small, command: { value: 'true' } });
    await waitState(master, view.task_id, 'TASK_RUNNING');

    for (const path of ['/health', '/master/health']) {
      const reply = await call(`${master.url}${path}`);
      assert.equal(reply.status, 200);
      assert.deepEqual(reply.body, { healthy: true });
    }
    const state = (await call<MasterState>(`${master.url}/master/state`)).body;
    const pid = `master@127.0.0.1:${master.port}`;
    assert.equal(state.pid, pid);
    assert.equal(state.leader, pid);
    assert.equal(state.leader_info.port, master.port);
    assert.deepEqual(state.leader_info.address, { hostname: state.hostname, ip: '127.0.0.1', port: master.port });
    assert.equal(state.activated_slaves, 1);
    assert.equal(state.unreachable_slaves, 0);
    const slave = state.slaves[0]!;
    assert.equal(slave.pid, `slave(1)@127.0.0.1:${agent.port}`);
    assert.deepEqual(slave.used_resources, { cpus: 0.5, mem: 64, disk: 0 });
    assert.deepEqual(slave.executors, ['command', 'docker']);
    assert.equal(slave.active, true);
    const framework = state.frameworks[0]!;
    assert.equal(framework.id, 'tessera-tasks');
    assert.equal(framework.tasks[0]?.id, view.task_id);
    assert.equal(framework.tasks[0]?.slave_id, agent.agentId);
    assert.equal(framework.tasks[0]?.state, 'TASK_RUNNING');

    const metrics = await snapshot(master);
    assert.equal(metrics['master/elected'], 1);
    assert.equal(metrics['master/cpus_total'], 2);
    assert.equal(metrics['master/mem_total'], 1024);
    assert.equal(metrics['master/mem_used'], 64);
    assert.equal(Object.keys(metrics).length, 23);
    const prom = await call(`${master.url}/metrics`);
    assert.match(prom.headers.get('content-type') ?? '', /text\/plain/);
    assert.match(prom.text, /^tessera_master_slaves_active 1$/m);

    // A status update from an agent the master does not know is refused so it re-registers first.
    const stray = await call<{ error: { code: string } }>(`${master.url}${INTERNAL_PATHS.status('ghost')}`, {
      body: { update: { task_id: view.task_id, state: 'TASK_FINISHED', source: 'SOURCE_EXECUTOR', timestamp: 1, uuid: 'x' } },
    });
    assert.equal(stray.status, 404);
    assert.equal(stray.body.error.code, 'AGENT_UNKNOWN');
  });

  describe('after a restart or failover: task records from the registry', () => {
    const held = { name: 'held', resources: small, command: { value: 'sleep 100' } };

    /** Two agents admitted by a first master, then a registry that also holds `held.1` (its launch was in flight) and `ran.1` (on A). */
    async function restartWithRecords(options: Partial<MasterOptions>): Promise<{ master: Master; a: FakeAgent; b: FakeAgent }> {
      const first = await startMaster();
      const a = await startAgent(first);
      const b = await startAgent(first);
      await a.register();
      await b.register();
      await first.stop();
      masters.splice(masters.indexOf(first), 1);
      const path = join(workDir, 'master', 'registry.json');
      const registry = JSON.parse(await readFile(path, 'utf8')) as { tasks: unknown[] };
      registry.tasks = [
        { task_id: 'held.1', submission: held, submitted_at: 1 },
        { task_id: 'ran.1', submission: { ...held, name: 'ran' }, submitted_at: 2, agent_id: a.agentId },
      ];
      await writeFile(path, JSON.stringify(registry));
      const master = await startMaster(options);
      for (const agent of [a, b]) (agent as unknown as { options: FakeAgentOptions }).options.masterUrl = master.url;
      return { master, a, b };
    }

    it('holds a recovered waiting task until every known agent re-registered; the agent that has it claims it', async () => {
      const { master, a, b } = await restartWithRecords({ agentReregisterTimeoutMs: 60_000 });
      await b.register();
      await call(`${master.url}/master/state`); // the placement pass after B's registration has run by now
      assert.deepEqual(b.launched, [], 'not placed while agent A may still have it');
      assert.equal((await task(master, 'held.1')).state, 'TASK_STAGING');
      // A had received the launch just before the old leader went: it reports the task.
      a.tasks.set('held.1', {
        task: { task_id: 'held.1', name: 'held', agent_id: a.agentId!, resources: small, command: held.command },
        status: { task_id: 'held.1', agent_id: a.agentId!, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestamp: 3, uuid: 'u-held' },
      });
      a.tasks.set('ran.1', {
        task: { task_id: 'ran.1', name: 'ran', agent_id: a.agentId!, resources: small, command: held.command },
        status: { task_id: 'ran.1', agent_id: a.agentId!, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestamp: 3, uuid: 'u-ran' },
      });
      await a.register();
      const claimed = await task(master, 'held.1');
      assert.equal(claimed.state, 'TASK_RUNNING');
      assert.equal(claimed.agent_id, a.agentId);
      assert.equal(claimed.submitted_at, 1, 'the submission time comes from the record');
      assert.equal((await task(master, 'ran.1')).state, 'TASK_RUNNING');
      await call(`${master.url}/master/state`);
      assert.deepEqual([...a.launched, ...b.launched], [], 'nothing launched twice');
      await waitFor('records name agent A', async () => {
        const saved = JSON.parse(await readFile(join(workDir, 'master', 'registry.json'), 'utf8')) as { tasks: Array<{ task_id: string; agent_id?: string }> };
        return saved.tasks.every((t) => t.agent_id === a.agentId) && saved.tasks.length === 2 ? true : undefined;
      });
    });

    it('an agent that does not re-register in time is removed: its recorded task is LOST, the held one is placed elsewhere', async () => {
      const { master, a, b } = await restartWithRecords({ agentReregisterTimeoutMs: 300, agentTimeoutMs: 60_000 });
      const unsettled = await call<{ error: { code: string } }>(`${master.url}/api/v1/tasks/ran.1`);
      assert.equal(unsettled.status, 503, 'known, but its agent has not come back yet');
      await b.register();
      const placed = await waitState(master, 'held.1', 'TASK_RUNNING');
      assert.equal(placed.agent_id, b.agentId);
      assert.deepEqual(b.launched.map((t) => t.task_id), ['held.1']);
      const lost = await waitState(master, 'ran.1', 'TASK_LOST');
      assert.equal(lost.reason, 'REASON_AGENT_REMOVED');
      assert.equal(lost.agent_id, a.agentId);
      const state = (await call<MasterState>(`${master.url}/master/state`)).body;
      assert.deepEqual(state.slaves.map((s) => s.id), [b.agentId], 'A is forgotten');
      // A comes back after all: it registers afresh and is told to kill what was reported lost.
      a.tasks.set('ran.1', {
        task: { task_id: 'ran.1', name: 'ran', agent_id: a.agentId!, resources: small, command: held.command },
        status: { task_id: 'ran.1', agent_id: a.agentId!, state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestamp: 3, uuid: 'u-ran' },
      });
      const back = await a.register();
      assert.deepEqual(back.kill_task_ids, ['ran.1']);
      assert.equal((await task(master, 'ran.1')).state, 'TASK_LOST');
    });
  });
});
