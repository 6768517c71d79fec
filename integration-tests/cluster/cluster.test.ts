// End-to-end on the namespace cluster (issue 6): the Vagrant topology — 1 ZooKeeper, 3 masters,
// 3 agents, a client/framework host — as network namespaces on one bridge, addresses from DHCP, every
// host running vagrant/bin's tessera-serf and tessera-run-* scripts, finding the others through Serf
// alone. Every request of the test leaves from the client host (through its relay); nothing is
// reachable from the root namespace. Real ZooKeeper, real Docker, real cgroups.
//
// The steps share one cluster and run in order; the last one tears it down and checks that nothing
// is left. Run alone: `npm run test:cluster`.
import assert from 'node:assert/strict';
import { isTerminal, type TaskStatisticsEntry, type TaskView } from '../../common/index.js';
import { waitFor } from '../harness/wait.js';
import { NetnsCluster, PORTS, missingParts, slaveIp, sweepStaleRuns, type NetnsHost } from './netns-cluster.js';
import type { RunRecord } from './run-record.js';

const IMAGE = process.env.TESSERA_TEST_IMAGE ?? 'tessera-test/busybox:latest';
const APP_ID = '/netns-web';

function progress(message: string): void {
  if (process.env.TESSERA_TEST_VERBOSE) console.log(`      [netns] ${message}`);
}

async function dockerAnswers(): Promise<boolean> {
  const { default: Docker } = await import('dockerode');
  return new Docker({ socketPath: '/var/run/docker.sock' }).ping().then(() => true, () => false);
}

interface ServicesTask {
  id: string;
  state: string;
  slaveId: string;
}

describe('namespace cluster (e2e: ZooKeeper, 3 masters, 3 agents, a client host in network namespaces, found through Serf)', function () {
  this.timeout(60_000);
  let cluster: NetnsCluster;
  let record: RunRecord | undefined;
  const taskIds: { docker?: string; command?: string } = {};
  let victim: NetnsHost | undefined;
  let victimTasks: string[] = [];
  let victimAgentId = '';
  let cutAt = 0;

  const leaderUrl = async (): Promise<string> => {
    const leader = await cluster.leader();
    assert.ok(leader, 'a master leads');
    return leader.url(PORTS.master);
  };
  const appTasks = async (): Promise<ServicesTask[]> =>
    (await cluster.http.json<{ tasks: ServicesTask[] }>(`${cluster.servicesUrl}/v2/apps${APP_ID}/tasks`)).tasks;

  before(async function () {
    this.timeout(150_000);
    const missing = await missingParts();
    if (!(await dockerAnswers())) missing.push('a Docker engine at /var/run/docker.sock');
    if (missing.length > 0) {
      const reason = `namespace cluster needs: ${missing.join(', ')}`;
      if (process.env.CI === 'true') throw new Error(reason);
      console.log(`      skipping: ${reason}`);
      this.skip();
    }
    await sweepStaleRuns(progress);
    const started = Date.now();
    cluster = await NetnsCluster.create({ progress });
    record = cluster.record;
    progress(`up in ${Date.now() - started} ms`);
  });

  after(async function () {
    this.timeout(90_000);
    // Only when the last step did not get to it (a failed step before it).
    if (record && (await cluster.leftovers()).some((l) => l.startsWith('namespace'))) await cluster.destroy();
  });

  it('serf members on a host lists all 8 hosts, alive, with their roles', async function () {
    const expected = cluster.hosts.map((h) => `${h.name} ${h.ip}:7946 alive role=${h.role}`).sort();
    const members = await waitFor('8 alive Serf members', async () => {
      const list = await cluster.serfMembers(cluster.host('agent3'));
      return list.filter((m) => m.status === 'alive').length === expected.length ? list : undefined;
    }, 30_000, 500);
    assert.deepEqual(members.map((m) => `${m.name} ${m.address} ${m.status} role=${m.tags.role ?? ''}`).sort(), expected);
  });

  it('every agent registered with the elected leader (asked from the client host)', async function () {
    const leader = await cluster.leader();
    assert.ok(leader, 'a master leads');
    const state = await cluster.masterState();
    assert.equal(state.leader, `master@${leader.ip}:${PORTS.master}`);
    assert.deepEqual(
      state.slaves.filter((s) => s.active).map((s) => slaveIp(s.pid)).sort(),
      cluster.agents.map((a) => a.ip).sort(),
    );
    // The run scripts pass TESSERA_NODE as --hostname: every node shares this machine's host name.
    assert.deepEqual(state.slaves.map((s) => s.hostname).sort(), cluster.agents.map((a) => a.name).sort());
    assert.equal(state.leader_info.hostname, leader.name);
    // A follower sends API clients to the leader.
    const follower = cluster.masters.find((m) => m !== leader);
    assert.ok(follower);
    const answer = await cluster.http.raw(follower.url(PORTS.master, '/api/v1/tasks'));
    assert.equal(answer.status, 307);
    assert.equal(answer.headers.location, `//${leader.ip}:${PORTS.master}/api/v1/tasks`);
    await cluster.rememberAgentIds();
  });

  it('runs a docker task and a command task submitted from the client host; metrics from the agent', async function () {
    const submit = async (args: string[]): Promise<string> => {
      const result = await cluster.tessera(cluster.client, ['run', '--master', cluster.zkUrl, '--detach', ...args]);
      assert.equal(result.code, 0, `tessera run ${args.join(' ')}: ${result.stderr}`);
      const id = result.stdout.trim().split('\n').pop();
      assert.ok(id, `tessera run printed a task id: ${result.stdout}`);
      return id;
    };
    taskIds.docker = await submit(['--image', IMAGE, '--mem', '64', '--', 'sleep 600']);
    taskIds.command = await submit(['--mem', '64', '--', 'sleep 600']);

    for (const id of [taskIds.docker, taskIds.command]) {
      const view = await waitFor(`task ${id} running`, async () => {
        const task = await cluster.task(id);
        if (isTerminal(task.state)) throw new Error(`task ${id} ended ${task.state}: ${task.message ?? ''}`);
        return task.state === 'TASK_RUNNING' ? task : undefined;
      }, 30_000, 250);
      const agent = view.agent;
      assert.ok(agent && cluster.agents.some((a) => a.ip === agent.ip), `task ${id} runs on one of the agent hosts (${JSON.stringify(agent)})`);
      const entry = await waitFor(`statistics of ${id} at ${agent.ip}`, async () => {
        const stats = await cluster.http.json<TaskStatisticsEntry[]>(`http://${agent.ip}:${PORTS.agent}/monitor/statistics`);
        return stats.find((s) => s.task_id === id);
      }, 15_000, 250);
      assert.equal(entry.statistics.mem_limit_bytes, 64 * 1024 * 1024);
      assert.equal(entry.statistics.cpus_limit, 0.1);
      assert.ok((entry.statistics.processes ?? 0) >= 1, `processes in ${id}: ${JSON.stringify(entry.statistics)}`);
    }
  });

  it('runs a services app with 2 instances', async function () {
    await cluster.http.json(`${cluster.servicesUrl}/v2/apps`, {
      body: { id: APP_ID, cmd: 'sleep 600', cpus: 0.1, mem: 32, instances: 2, backoffSeconds: 0.5, maxLaunchDelaySeconds: 3 },
    });
    const tasks = await waitFor('2 running instances', async () => {
      const list = await appTasks();
      return list.filter((t) => t.state === 'TASK_RUNNING').length === 2 ? list : undefined;
    }, 30_000, 250);
    await cluster.rememberAgentIds();
    const state = await cluster.masterState();
    for (const task of tasks) assert.ok(state.slaves.some((s) => s.id === task.slaveId), `instance ${task.id} is on a known agent`);
  });

  it('cutting an agent host off: unreachable at the master, its tasks LOST, the instance re-placed', async function () {
    this.timeout(90_000);
    // The agent with a services instance and the most tasks.
    const state = await cluster.masterState();
    const { tasks } = await cluster.http.json<{ tasks: TaskView[] }>(`${await leaderUrl()}/api/v1/tasks`);
    const live = tasks.filter((t) => !isTerminal(t.state));
    const instances = await appTasks();
    const candidates = state.slaves.filter((s) => instances.some((i) => i.slaveId === s.id));
    const slave = candidates.sort((a, b) => live.filter((t) => t.agent_id === b.id).length - live.filter((t) => t.agent_id === a.id).length)[0];
    assert.ok(slave, 'an agent runs a services instance');
    victim = cluster.agentBySlavePid(slave.pid);
    assert.ok(victim, `agent host of ${slave.pid}`);
    victimAgentId = slave.id;
    victimTasks = live.filter((t) => t.agent_id === slave.id).map((t) => t.task_id);
    progress(`cutting ${victim.name} off (${victimTasks.length} tasks: ${victimTasks.join(', ')})`);

    cutAt = Date.now() / 1000;
    await cluster.unplug(victim);
    await waitFor(`${victim.name} unreachable at the master`, async () => {
      const now = await cluster.masterState();
      return now.slaves.find((s) => s.id === victimAgentId)?.status === 'unreachable' ? true : undefined;
    }, 30_000, 250);
    for (const id of victimTasks) {
      const task = await waitFor(`task ${id} lost`, async () => {
        const view = await cluster.task(id);
        return isTerminal(view.state) ? view : undefined;
      }, 15_000, 250);
      assert.equal(task.state, 'TASK_LOST', `task ${id}: ${task.state} ${task.reason ?? ''}`);
    }
    const replaced = await waitFor('2 running instances, none on the cut-off agent', async () => {
      const running = (await appTasks()).filter((t) => t.state === 'TASK_RUNNING');
      return running.length === 2 && running.every((t) => t.slaveId !== victimAgentId) ? running : undefined;
    }, 30_000, 250);
    assert.equal(replaced.length, 2);
  });

  it('bringing the link back: the agent re-registers and drops the tasks the master gave up on', async function () {
    this.timeout(60_000);
    assert.ok(victim, 'a host was cut off');
    const host = victim;
    await cluster.plug(host);
    await waitFor(`${host.name} active again`, async () => {
      const now = await cluster.masterState();
      const slave = now.slaves.find((s) => s.id === victimAgentId);
      return slave?.status === 'active' && (slave.reregistered_time ?? 0) >= cutAt ? true : undefined;
    }, 40_000, 250);
    // The master told it to kill what it had marked LOST: nothing of it keeps running there.
    await waitFor(`${host.name} running none of its lost tasks`, async () => {
      const agentState = await cluster.http.json<{ tasks: Array<{ id: string; state: string }> }>(host.url(PORTS.agent, '/state'));
      return agentState.tasks.some((t) => victimTasks.includes(t.id) && !isTerminal(t.state as TaskView['state'])) ? undefined : true;
    }, 30_000, 250);
    // The services app still has exactly its 2 instances.
    assert.equal((await appTasks()).filter((t) => t.state === 'TASK_RUNNING').length, 2);
  });

  it('tears down leaving no namespace, bridge, veth, cgroup, container or process', async function () {
    this.timeout(90_000);
    assert.ok(record);
    await cluster.rememberAgentIds();
    const started = Date.now();
    await cluster.destroy();
    progress(`torn down in ${Date.now() - started} ms`);
    assert.deepEqual(await cluster.leftovers(), []);
    assert.ok(record.agentIds.length >= 3, `agent ids known for the container check: ${record.agentIds.join(', ')}`);
  });
});
