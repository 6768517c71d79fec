// An agent restarted while tasks run finds them again; an agent that stays away loses its tasks.
import assert from 'node:assert/strict';
import { requestJson, type ResourceStatistics } from '../common/index.js';
import { TEST_IMAGE, TestCluster } from './harness/cluster.js';
import { waitFor } from './harness/wait.js';

describe('agent recovery', function () {
  this.timeout(120_000);

  describe('restart while tasks run', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await TestCluster.start({ agentArgs: ['--docker', 'on', '--resources', 'cpus:2;mem:2048'] });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('keeps command and docker tasks running across an agent crash and reports what ended meanwhile', async () => {
      const command = await cluster.submit({ name: 'survivor-cmd', resources: { cpus: 0.1, mem: 32 }, command: { value: 'while :; do sleep 0.2; done' } });
      const docker = await cluster.submit({
        name: 'survivor-docker',
        resources: { cpus: 0.1, mem: 32 },
        container: { type: 'DOCKER', docker: { image: TEST_IMAGE } },
        command: { value: 'while :; do sleep 0.2; done' },
      });
      const shortLived = await cluster.submit({ name: 'ends-while-down', resources: { cpus: 0.1, mem: 32 }, command: { value: 'sleep 3; exit 0' } });
      const failing = await cluster.submit({ name: 'fails-while-down', resources: { cpus: 0.1, mem: 32 }, command: { value: 'sleep 3; exit 7' } });
      for (const t of [command, docker, shortLived, failing]) await cluster.waitForState(t.task_id, ['TASK_RUNNING']);

      const agent = cluster.agents[0]!;
      const before = await agent.statistics();
      const agentIdBefore = (await cluster.state()).slaves[0]!.id;

      await agent.daemon!.crash();
      // While the agent is down, the short tasks end.
      await new Promise((r) => setTimeout(r, 4000));
      await agent.start();

      const state = await cluster.waitForAgents(1);
      assert.equal(state.slaves.length, 1, 'the restarted agent registered as a new agent');
      assert.equal(state.slaves[0]!.id, agentIdBefore);

      await cluster.waitForState(shortLived.task_id, ['TASK_FINISHED']);
      const failed = await cluster.waitForState(failing.task_id, ['TASK_FAILED']);
      assert.equal(failed.statuses[failed.statuses.length - 1]?.container_status?.exit_code, 7);

      for (const t of [command, docker]) assert.equal((await cluster.task(t.task_id)).state, 'TASK_RUNNING');
      // Still the same processes: their CPU time kept growing from where it was.
      const after = await waitFor('statistics of both survivors', async () => {
        const entries = await agent.statistics();
        return entries.filter((e) => e.task_id === command.task_id || e.task_id === docker.task_id).length === 2 ? entries : undefined;
      });
      const cpu = (s: ResourceStatistics | undefined) => (s?.cpus_user_time_secs ?? 0) + (s?.cpus_system_time_secs ?? 0);
      for (const t of [command, docker]) {
        const was = before.find((e) => e.task_id === t.task_id)?.statistics;
        const now = after.find((e) => e.task_id === t.task_id)?.statistics;
        assert.ok(cpu(now) >= cpu(was), `${t.name}: cpu time went back from ${cpu(was)} to ${cpu(now)}`);
      }
      // And the re-attached agent can still kill them.
      for (const t of [command, docker]) await cluster.kill(t.task_id);
      for (const t of [command, docker]) await cluster.waitForState(t.task_id, ['TASK_KILLED'], 30_000);
    });
  });

  describe('agent lost', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await TestCluster.start({ agentTimeout: '3s', agentArgs: ['--docker', 'off', '--resources', 'cpus:1;mem:512'] });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('marks the tasks of an agent silent past --agent-timeout TASK_LOST, and kills them when it returns', async () => {
      const task = await cluster.submit({ name: 'orphan', resources: { cpus: 0.1, mem: 32 }, command: { value: 'while :; do sleep 0.2; done' } });
      await cluster.waitForState(task.task_id, ['TASK_RUNNING']);
      const agent = cluster.agents[0]!;
      await agent.daemon!.crash();

      const lost = await cluster.waitForState(task.task_id, ['TASK_LOST'], 20_000);
      assert.ok(lost.reason, 'a TASK_LOST without a reason');
      const state = await cluster.state();
      assert.equal(state.slaves.filter((s) => s.active).length, 0);

      // The agent comes back: it re-registers and the task the master gave up on is killed there.
      await agent.start();
      await cluster.waitForAgents(1);
      await waitFor('the lost task killed on the returning agent', async () => {
        const entries = await requestJson<Array<{ task_id: string }>>(`${agent.url}/monitor/statistics`);
        return entries.some((e) => e.task_id === task.task_id) ? undefined : true;
      }, 20_000);
      assert.equal((await cluster.task(task.task_id)).state, 'TASK_LOST');
    });
  });

  describe('master restart', () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await TestCluster.start({ agentArgs: ['--docker', 'off', '--resources', 'cpus:1;mem:256'] });
    });
    after(async () => {
      await cluster?.stop();
    });

    it('keeps running tasks (reported by the agent) and waiting submissions (from its registry) across a crash', async () => {
      const running = await cluster.submit({ name: 'keeps-running', resources: { cpus: 0.5, mem: 200 }, command: { value: 'while :; do sleep 0.2; done' } });
      await cluster.waitForState(running.task_id, ['TASK_RUNNING']);
      const waiting = await cluster.submit({ name: 'keeps-waiting', resources: { cpus: 0.5, mem: 200 }, command: { value: 'sleep 600' } });
      assert.equal((await cluster.task(waiting.task_id)).state, 'TASK_STAGING');

      await cluster.master!.crash();
      await cluster.startMaster();
      await cluster.waitForAgents(1);

      // The agent re-registered and reported its task; the submission came back from the registry.
      await cluster.waitForState(running.task_id, ['TASK_RUNNING']);
      assert.equal((await cluster.task(waiting.task_id)).state, 'TASK_STAGING');
      // And the restarted master still acts on both: kill the first, the second gets its room.
      await cluster.kill(running.task_id);
      await cluster.waitForState(running.task_id, ['TASK_KILLED']);
      await cluster.waitForState(waiting.task_id, ['TASK_RUNNING']);
    });
  });
});
