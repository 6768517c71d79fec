// The agent with the REAL command executor and the REAL cgroups isolator of this host, v1 or v2 (v2
// runs in the VM of scripts/cgroup2-vm/run.sh), built by Agent.create itself, against a fake master:
// launch, output, OOM, kill, and recovery after a restart.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { INTERNAL_PATHS, createLogger, isTerminal, requestJson, silentLogger, waitFor, type TaskInfo, type TaskStatisticsEntry } from '../common/index.js';
import { Agent } from './agent.js';
import { parseUpdateLog } from './checkpoint/index.js';
import type { AgentState } from './http/index.js';
import { ownV2Base, removeCgroupsRoot, requireRealCgroups, testCgroupsRoot, type RealCgroupVersion } from './testing/cgroups.js';
import { FakeMaster } from './testing/fake-master.js';

function taskInfo(id: string, command: string, mem = 64): TaskInfo {
  return { task_id: id, name: id, agent_id: 'agent-1', resources: { cpus: 0.5, mem }, command: { value: command } };
}

/** Fails fast with the cause when 127.0.0.1 cannot be reached (e.g. a VM whose `lo` is down). */
async function assertLoopbackWorks(): Promise<void> {
  const server = net.createServer((socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as net.AddressInfo;
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', (err) => reject(new Error(`loopback 127.0.0.1 unreachable: ${err.message}`, { cause: err })));
    });
  } finally {
    server.close();
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Agent with the real command executor on real cgroups (v1 or v2)', function () {
  this.timeout(30_000);
  let version: RealCgroupVersion;
  let workDir: string;
  let cgroupsRoot: string;
  let master: FakeMaster;
  const agents: Agent[] = [];

  async function startAgent(): Promise<Agent> {
    const agent = await Agent.create({
      host: '127.0.0.1',
      port: 0,
      master: master.address,
      workDir,
      docker: 'off',
      isolation: 'cgroups',
      cgroupsRoot,
      resources: { cpus: 2, mem: 2048 },
      statusRetryMinMs: 20,
      statusRetryMaxMs: 200,
      logger: process.env.AGENT_TEST_LOG ? createLogger("agent", "debug") : silentLogger,
    });
    agents.push(agent);
    await agent.registered();
    return agent;
  }

  const launch = (agent: Agent, task: TaskInfo) => requestJson(`${agent.url}${INTERNAL_PATHS.launch}`, { body: { task } });
  const kill = (agent: Agent, taskId: string, grace?: number) =>
    requestJson(`${agent.url}${INTERNAL_PATHS.kill(taskId)}`, { method: 'POST', body: grace === undefined ? undefined : { grace_period_seconds: grace } });
  const terminal = (taskId: string) =>
    waitFor(`${taskId} terminal`, () => {
      const last = master.lastUpdate(taskId);
      return last && isTerminal(last.state) ? last : undefined;
    }, 20_000);

  beforeEach(async function () {
    version = await requireRealCgroups(this);
    await assertLoopbackWorks();
    workDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-agent-real-'));
    cgroupsRoot = testCgroupsRoot();
    master = await FakeMaster.start();
  });

  afterEach(async () => {
    // Tasks outlive agent.stop() by design: kill what is still running through the last agent first.
    const last = agents[agents.length - 1];
    if (last) {
      const state = await requestJson<AgentState>(`${last.url}/state`).catch(() => undefined);
      for (const task of state?.tasks ?? []) {
        await kill(last, task.id, 0).catch(() => undefined);
        await terminal(task.id).catch(() => undefined);
      }
      await last.statusUpdatesDelivered();
    }
    for (const agent of agents.splice(0)) await agent.stop();
    await master?.stop();
    if (cgroupsRoot) await removeCgroupsRoot(version, cgroupsRoot);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('runs a command to TASK_FINISHED in a cgroup and serves its stdout', async () => {
    const agent = await startAgent();
    const state = await requestJson<AgentState>(`${agent.url}/state`);
    assert.equal(state.isolation, `cgroups-${version}`);
    await launch(agent, taskInfo('hello', 'echo hello from $TESSERA_TASK_ID; cat /proc/self/cgroup'));
    const final = await terminal('hello');
    assert.equal(final.state, 'TASK_FINISHED', final.message);
    assert.deepEqual(master.statesOf('hello'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    const directory = (await requestJson<AgentState>(`${agent.url}/state`)).completed_tasks[0]?.directory ?? '';
    const out = await requestJson<{ data: string; offset: number }>(`${agent.url}/files/read?path=${encodeURIComponent(path.join(directory, 'stdout'))}`);
    assert.match(out.data, /^hello from hello$/m);
    // The task ran inside its own cgroup beneath the test's root: the memory hierarchy's in v1, the
    // one unified cgroup (beneath this process's own) in v2.
    if (version === 'v1') assert.match(out.data, new RegExp(`^\\d+:([^:]*,)?memory(,[^:]*)?:.*/${cgroupsRoot}/[^/]+$`, 'm'));
    else assert.match(out.data, new RegExp(`^0::${path.posix.join(await ownV2Base(), cgroupsRoot)}/[^/]+$`, 'm'));
  });

  it('reports an OOM kill as TASK_FAILED REASON_CONTAINER_LIMITATION_MEMORY', async () => {
    const agent = await startAgent();
    await launch(agent, taskInfo('hog', 'dd if=/dev/zero of=/dev/null bs=256M count=1', 64));
    const final = await terminal('hog');
    assert.equal(final.state, 'TASK_FAILED');
    assert.equal(final.reason, 'REASON_CONTAINER_LIMITATION_MEMORY');
    assert.equal(final.message, 'Memory limit exceeded: 64 MB');
  });

  it('kills a running task, and reports statistics while it runs', async () => {
    const agent = await startAgent();
    await launch(agent, taskInfo('sleeper', 'sleep 100'));
    await waitFor('running', () => master.statesOf('sleeper').includes('TASK_RUNNING'));
    const stats = await requestJson<TaskStatisticsEntry[]>(`${agent.url}/monitor/statistics`);
    assert.equal(stats[0]?.task_id, 'sleeper');
    assert.equal(stats[0]?.statistics.mem_limit_bytes, 64 * 1024 * 1024);
    await kill(agent, 'sleeper', 1);
    const final = await terminal('sleeper');
    assert.equal(final.state, 'TASK_KILLED');
    assert.deepEqual(master.statesOf('sleeper'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_KILLING', 'TASK_KILLED']);
  });

  it('recovers real tasks after a restart: one still running, one that ended while the agent was down', async () => {
    const first = await startAgent();
    await launch(first, taskInfo('survivor', 'sleep 100'));
    await launch(first, taskInfo('quitter', 'while [ ! -e go ]; do sleep 0.05; done; exit 3'));
    await waitFor('both running', () => master.statesOf('survivor').includes('TASK_RUNNING') && master.statesOf('quitter').includes('TASK_RUNNING'));
    const state = await requestJson<AgentState>(`${first.url}/state`);
    const quitter = state.tasks.find((t) => t.id === 'quitter');
    assert.ok(quitter);
    // The handle is checkpointed as a line of the task's update log.
    const logText = await readFile(path.join(workDir, 'agent', 'tasks', 'task-quitter', 'updates.log'), 'utf8');
    const quitterPid = parseUpdateLog(logText).handle?.pid;
    assert.ok(quitterPid !== undefined, 'the handle with the pid is checkpointed');
    await first.statusUpdatesDelivered();
    await first.stop();

    await writeFile(path.join(quitter.directory, 'go'), '');
    await waitFor('quitter exited while the agent is down', () => !pidAlive(quitterPid));

    const before = master.registrations.length;
    const second = await startAgent();
    assert.equal(second.id, 'agent-1');
    const reported = new Map(master.registrations[before]?.tasks.map((t) => [t.task.task_id, t.status]));
    assert.equal(reported.get('survivor')?.state, 'TASK_RUNNING');
    assert.equal(reported.get('quitter')?.state, 'TASK_FAILED');
    assert.match(reported.get('quitter')?.message ?? '', /task ended while the agent was down/);
    assert.equal(reported.get('quitter')?.container_status?.exit_code, 3);

    // The survivor is still watched by the new agent: killing it through the new agent works.
    await kill(second, 'survivor', 1);
    const final = await terminal('survivor');
    assert.equal(final.state, 'TASK_KILLED');
  });
});
