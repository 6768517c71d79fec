// Agent tests against a fake master (node:http) with a fake executor: the whole flow through the
// real HTTP API, checkpoints and status update manager; only the executor and isolator are fakes.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { INTERNAL_PATHS, RemoteError, requestJson, silentLogger, waitFor, type TaskInfo, type TaskStatisticsEntry } from '../common/index.js';
import { ExecutorError } from '../executors/index.js';
import { Agent } from './agent.js';
import type { AgentState } from './http/index.js';
import { FakeExecutor } from './testing/fake-executor.js';
import { FakeIsolator } from './testing/fake-isolator.js';
import { FakeMaster } from './testing/fake-master.js';

function taskInfo(id: string, extra: Partial<TaskInfo> = {}): TaskInfo {
  return { task_id: id, name: id, agent_id: 'agent-1', framework_id: 'tessera-tasks', resources: { cpus: 0.5, mem: 64 }, command: { value: 'sleep 100' }, ...extra };
}

describe('Agent (fake master, fake executor)', function () {
  this.timeout(20_000);
  let workDir: string;
  let master: FakeMaster;
  let executor: FakeExecutor;
  const agents: Agent[] = [];

  async function startAgent(): Promise<Agent> {
    const agent = await Agent.create({
      host: '127.0.0.1',
      port: 0,
      master: master.address,
      workDir,
      docker: 'off',
      isolator: new FakeIsolator(),
      executors: { command: executor },
      resources: { cpus: 2, mem: 2048 },
      statusRetryMinMs: 20,
      statusRetryMaxMs: 200,
      logger: silentLogger,
    });
    agents.push(agent);
    await agent.registered();
    return agent;
  }

  function launch(agent: Agent, task: TaskInfo): Promise<{ task_id: string }> {
    return requestJson(`${agent.url}${INTERNAL_PATHS.launch}`, { body: { task } });
  }

  function kill(agent: Agent, taskId: string, body?: object): Promise<unknown> {
    return requestJson(`${agent.url}${INTERNAL_PATHS.kill(taskId)}`, { method: 'POST', body });
  }

  const states = (taskId: string) => master.statesOf(taskId);
  const waitStates = (taskId: string, expected: string[]) =>
    waitFor(`${taskId} states ${expected.join(',')} (have ${states(taskId).join(',')})`, () => states(taskId).length >= expected.length).then(() =>
      assert.deepEqual(states(taskId), expected),
    );

  beforeEach(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-agent-'));
    master = await FakeMaster.start();
    executor = new FakeExecutor();
  });
  afterEach(async () => {
    for (const agent of agents.splice(0)) await agent.stop();
    await master.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('registers, launches a task STARTING → RUNNING → FINISHED, and shows it in /state', async () => {
    const agent = await startAgent();
    assert.equal(agent.id, 'agent-1');
    const registration = master.registrations[0];
    assert.equal(registration?.agent_id, undefined);
    assert.deepEqual(registration?.info.executors, ['command']);
    assert.equal(registration?.info.port, agent.port);
    assert.deepEqual(registration?.info.resources, { cpus: 2, mem: 2048, disk: registration?.info.resources.disk, ports: [{ begin: 31000, end: 32000 }] });

    assert.deepEqual(await launch(agent, taskInfo('t1', { resources: { cpus: 0.5, mem: 64, pids: 100 } })), { task_id: 't1' });
    await waitStates('t1', ['TASK_STARTING', 'TASK_RUNNING']);
    const started = executor.tasks.get('t1');
    assert.deepEqual(started?.config.limits, { cpus: 0.5, memBytes: 64 * 1024 * 1024, pids: 100 });
    assert.equal(started?.config.env.TESSERA_TASK_ID, 't1');
    assert.ok((await stat(started.config.sandboxDir)).isDirectory(), 'sandbox exists before start');

    const state = await requestJson<AgentState>(`${agent.url}/state`);
    assert.equal(state.id, 'agent-1');
    assert.equal(state.pid, `slave(1)@127.0.0.1:${agent.port}`);
    assert.equal(state.isolation, 'posix');
    // Mesos prints ranges as one string in /state.
    assert.equal(state.resources.ports, '[31000-32000]');
    assert.equal(state.resources.cpus, 2);
    const shown = state.tasks.find((t) => t.id === 't1');
    assert.equal(shown?.state, 'TASK_RUNNING');
    assert.equal(shown?.directory, started?.config.sandboxDir);
    assert.equal(shown?.framework_id, 'tessera-tasks');
    assert.deepEqual(shown?.statuses.map((s) => s.state), ['TASK_STARTING', 'TASK_RUNNING']);

    const stats = await requestJson<TaskStatisticsEntry[]>(`${agent.url}/monitor/statistics`);
    assert.equal(stats.length, 1);
    assert.equal(stats[0]?.task_id, 't1');
    assert.equal(stats[0]?.statistics.mem_limit_bytes, 64 * 1024 * 1024);

    executor.finish('t1', { exitCode: 0, signal: null, oomKilled: false });
    await waitStates('t1', ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    assert.equal(master.lastUpdate('t1')?.container_status?.exit_code, 0);
    await waitFor('container destroyed', () => executor.destroyed.includes(started?.config.containerId ?? '?'));
    const after = await requestJson<AgentState>(`${agent.url}/state`);
    assert.equal(after.tasks.length, 0);
    assert.equal(after.completed_tasks[0]?.state, 'TASK_FINISHED');

    const metrics = await (await fetch(`${agent.url}/metrics`)).text();
    assert.match(metrics, /tessera_agent_tasks\{state="TASK_FINISHED"\} 1/);
    assert.match(metrics, /tessera_agent_registered 1/);
    assert.match(metrics, /tessera_agent_uptime_seconds \d/);
    assert.deepEqual(await requestJson(`${agent.url}/health`), { status: 'ok', registered: true });
  });

  it('maps an OOM kill to TASK_FAILED REASON_CONTAINER_LIMITATION_MEMORY, and other exits to REASON_COMMAND_EXECUTOR_FAILED', async () => {
    const agent = await startAgent();
    await launch(agent, taskInfo('oom'));
    await launch(agent, taskInfo('bad'));
    await waitStates('oom', ['TASK_STARTING', 'TASK_RUNNING']);
    await waitStates('bad', ['TASK_STARTING', 'TASK_RUNNING']);
    executor.finish('oom', { exitCode: 137, signal: null, oomKilled: true });
    executor.finish('bad', { exitCode: 3, signal: null, oomKilled: false });
    await waitStates('oom', ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FAILED']);
    await waitStates('bad', ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FAILED']);
    const oom = master.lastUpdate('oom');
    assert.equal(oom?.reason, 'REASON_CONTAINER_LIMITATION_MEMORY');
    assert.equal(oom?.message, 'Memory limit exceeded: 64 MB');
    const bad = master.lastUpdate('bad');
    assert.equal(bad?.reason, 'REASON_COMMAND_EXECUTOR_FAILED');
    assert.match(bad?.message ?? '', /status 3/);
    assert.equal(bad?.container_status?.exit_code, 3);
  });

  it('kills a task: TASK_KILLING → TASK_KILLED with the requested grace; unknown task → 404', async () => {
    const agent = await startAgent();
    await launch(agent, taskInfo('k1', { kill_grace_period_seconds: 7 }));
    await launch(agent, taskInfo('k2'));
    await waitStates('k1', ['TASK_STARTING', 'TASK_RUNNING']);
    await waitStates('k2', ['TASK_STARTING', 'TASK_RUNNING']);
    await kill(agent, 'k1');
    await kill(agent, 'k2', { grace_period_seconds: 1 });
    await waitStates('k1', ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
    await waitStates('k2', ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
    assert.deepEqual(executor.stopped, [{ taskId: 'k1', timeoutMs: 7000 }, { taskId: 'k2', timeoutMs: 1000 }]);
    await assert.rejects(kill(agent, 'nope'), (err: unknown) => err instanceof RemoteError && err.status === 404);
  });

  it('honours a kill that arrives while the task is being launched', async () => {
    const agent = await startAgent();
    let open!: () => void;
    executor.startGate = new Promise((resolve) => (open = resolve));
    const starting = executor.nextStart();
    await launch(agent, taskInfo('early'));
    await starting;
    await kill(agent, 'early');
    open();
    await waitStates('early', ['TASK_STARTING', 'TASK_KILLING', 'TASK_KILLED']);
  });

  it('reports launch failures: executor errors and a Docker task on an agent without Docker', async () => {
    const agent = await startAgent();
    executor.failNextStart = new ExecutorError('IMAGE_NOT_FOUND', 'image busybox:nope not found');
    await launch(agent, taskInfo('nostart'));
    await waitStates('nostart', ['TASK_STARTING', 'TASK_FAILED']);
    assert.equal(master.lastUpdate('nostart')?.reason, 'REASON_CONTAINER_LAUNCH_FAILED');
    assert.equal(master.lastUpdate('nostart')?.message, 'image busybox:nope not found');

    await launch(agent, taskInfo('dock', { container: { type: 'DOCKER', docker: { image: 'tessera-test/busybox:latest' } } }));
    await waitStates('dock', ['TASK_FAILED']);
    assert.equal(master.lastUpdate('dock')?.reason, 'REASON_CONTAINER_LAUNCH_FAILED');
    assert.match(master.lastUpdate('dock')?.message ?? '', /docker executor is not enabled/);
  });

  it('rejects an invalid launch (400) and a duplicate task id (409)', async () => {
    const agent = await startAgent();
    await assert.rejects(
      requestJson(`${agent.url}${INTERNAL_PATHS.launch}`, { body: { task: { task_id: 'x' } } }),
      (err: unknown) => err instanceof RemoteError && err.status === 400,
    );
    await launch(agent, taskInfo('dup'));
    await assert.rejects(launch(agent, taskInfo('dup')), (err: unknown) => err instanceof RemoteError && err.status === 409);
  });

  it('serves sandbox files and refuses paths outside the sandboxes with 403', async () => {
    const agent = await startAgent();
    await launch(agent, taskInfo('files'));
    await waitStates('files', ['TASK_STARTING', 'TASK_RUNNING']);
    const state = await requestJson<AgentState>(`${agent.url}/state`);
    const directory = state.tasks[0]?.directory ?? '';
    await writeFile(path.join(directory, 'stdout'), 'out\n');
    const read = (p: string, extra = '') => requestJson(`${agent.url}/files/read?path=${encodeURIComponent(p)}${extra}`);
    assert.deepEqual(await read(path.join(directory, 'stdout')), { data: 'out\n', offset: 0 });
    assert.deepEqual(await read(path.join(directory, 'stdout'), '&offset=-1'), { data: '', offset: 4 });
    await assert.rejects(read('/etc/passwd'), (err: unknown) => err instanceof RemoteError && err.status === 403 && err.code === 'FORBIDDEN');
    await assert.rejects(read(`${directory}/../../../../etc/passwd`), (err: unknown) => err instanceof RemoteError && err.status === 403);
    await assert.rejects(read(path.join(directory, 'missing')), (err: unknown) => err instanceof RemoteError && err.status === 404);
  });

  it('re-registers with the same id when the master forgets it', async () => {
    const agent = await startAgent();
    master.forget('agent-1');
    await waitFor('re-registration', () => master.registrations.length >= 2);
    assert.equal(master.registrations[1]?.agent_id, 'agent-1');
    assert.equal(agent.id, 'agent-1');
  });

  it('recovers after a restart: same id, reports the running task, one that ended while down, and one caught mid-launch', async () => {
    const first = await startAgent();
    await launch(first, taskInfo('keeps-running'));
    await launch(first, taskInfo('ends-while-down'));
    await waitStates('keeps-running', ['TASK_STARTING', 'TASK_RUNNING']);
    await waitStates('ends-while-down', ['TASK_STARTING', 'TASK_RUNNING']);
    // A launch that never gets past startTask before the agent stops.
    let open!: () => void;
    executor.startGate = new Promise((resolve) => (open = resolve));
    const starting = executor.nextStart();
    await launch(first, taskInfo('mid-launch'));
    await starting;
    await waitStates('mid-launch', ['TASK_STARTING']);
    await first.statusUpdatesDelivered();

    await first.stop();
    executor.finish('ends-while-down', { exitCode: 1, signal: null, oomKilled: false });
    executor.orphans = [{ kind: 'command', taskId: 'ghost', containerId: 'ghost-container', sandboxDir: '/nowhere', startedAt: 0 }];
    const registrationsBefore = master.registrations.length;

    const second = await startAgent();
    assert.equal(second.id, 'agent-1');
    const registration = master.registrations[registrationsBefore];
    assert.equal(registration?.agent_id, 'agent-1');
    const reported = new Map(registration?.tasks.map((t) => [t.task.task_id, t.status]));
    assert.equal(reported.get('keeps-running')?.state, 'TASK_RUNNING');
    assert.equal(reported.get('ends-while-down')?.state, 'TASK_FAILED');
    assert.match(reported.get('ends-while-down')?.message ?? '', /task ended while the agent was down/);
    assert.equal(reported.get('mid-launch')?.state, 'TASK_FAILED');
    assert.equal(reported.get('mid-launch')?.reason, 'REASON_AGENT_RESTARTED');
    assert.ok(executor.destroyed.includes('ghost-container'), 'orphan destroyed');

    await waitStates('ends-while-down', ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FAILED']);
    await waitStates('mid-launch', ['TASK_STARTING', 'TASK_FAILED']);
    // The re-attached task is still watched: its end is reported by the new agent.
    executor.finish('keeps-running', { exitCode: 0, signal: null, oomKilled: false });
    await waitStates('keeps-running', ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    const state = await requestJson<AgentState>(`${second.url}/state`);
    assert.deepEqual(state.tasks, []);
    assert.deepEqual(state.completed_tasks.map((t) => t.id).sort(), ['ends-while-down', 'keeps-running', 'mid-launch']);
    open();
  });

  it("holds a framework's updates until POST /internal/v1/acknowledgements, reports the held final one on re-registration, and re-sends it after a restart", async () => {
    master.holdUpdates = true;
    const first = await startAgent();
    await launch(first, taskInfo('held'));
    await waitFor('STARTING re-sent while held', () => master.received.filter((u) => u.task_id === 'held').length >= 2);
    assert.deepEqual(states('held'), ['TASK_STARTING'], 'RUNNING waits until STARTING is acknowledged');
    const uuidOf = (state: string): string => master.received.find((u) => u.task_id === 'held' && u.state === state)?.uuid ?? '?';

    // Unknown task, stale uuid: 200 and ignored. Then the real acknowledgement releases RUNNING.
    await master.acknowledge(first.url, [{ task_id: 'nope', uuid: 'x' }, { task_id: 'held', uuid: 'not-the-head' }]);
    assert.equal(states('held').length, 1);
    assert.deepEqual(
      await requestJson(`${first.url}${INTERNAL_PATHS.acknowledge}`, { body: { acknowledgements: [{ task_id: 'held', uuid: uuidOf('TASK_STARTING') }] } }),
      { ok: true },
    );
    await waitStates('held', ['TASK_STARTING', 'TASK_RUNNING']);
    await master.acknowledge(first.url, [{ task_id: 'held', uuid: uuidOf('TASK_RUNNING') }]);

    executor.finish('held', { exitCode: 0, signal: null, oomKilled: false });
    await waitStates('held', ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    // Its final update is unacknowledged: the agent still owns the task and reports it when it re-registers.
    master.forget('agent-1');
    await waitFor('re-registration', () => master.registrations.length >= 2);
    assert.equal(master.registrations[1]?.tasks.find((t) => t.task.task_id === 'held')?.status.state, 'TASK_FINISHED');
    await first.stop();

    const second = await startAgent();
    const finished = uuidOf('TASK_FINISHED');
    const sendsBefore = master.timesReceived(finished);
    await waitFor('the final update re-sent by the restarted agent', () => master.timesReceived(finished) > sendsBefore);
    const startingSends = master.timesReceived(uuidOf('TASK_STARTING'));
    await master.acknowledge(second.url, [{ task_id: 'held', uuid: finished }]);
    await second.statusUpdatesDelivered();
    assert.equal(master.timesReceived(uuidOf('TASK_STARTING')), startingSends, 'acknowledged updates are not re-sent after the restart');
  });

  it('answers 400 naming the field for a malformed acknowledgement body', async () => {
    const agent = await startAgent();
    const post = (body: unknown) => requestJson(`${agent.url}${INTERNAL_PATHS.acknowledge}`, { body });
    const refused = (field: string | undefined) => (err: unknown) => err instanceof RemoteError && err.status === 400 && err.field === field;
    await assert.rejects(post({}), refused('acknowledgements'));
    await assert.rejects(post({ acknowledgements: [{ task_id: 't' }] }), refused('acknowledgements.0.uuid'));
    await assert.rejects(post({ acknowledgements: [{ task_id: 't', uuid: 5 }] }), refused('acknowledgements.0.uuid'));
    await assert.rejects(post({ acknowledgements: [{ task_id: 'bad id!', uuid: 'u' }] }), refused('acknowledgements.0.task_id'));
    await assert.rejects(post({ acknowledgements: [], extra: 1 }), refused('extra'));
    const raw = await fetch(`${agent.url}${INTERNAL_PATHS.acknowledge}`, { method: 'POST', body: 'not json', headers: { 'content-type': 'application/json' } });
    assert.equal(raw.status, 400);
    assert.deepEqual(await post({ acknowledgements: [] }), { ok: true });
  });
});
