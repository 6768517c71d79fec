// The kernel enforces task limits: memory (OOM kill reported as such), CPU quota, PID limit.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { TEST_IMAGE, TestCluster } from './harness/cluster.js';
import { cgroupDirs } from './harness/cleanup.js';
import { waitFor } from './harness/wait.js';
import type { ResourceStatistics, TaskSubmission } from '../common/index.js';

const ALLOCATE_256MB = 'dd if=/dev/zero of=/dev/null bs=256M count=1';
const BUSY_LOOP = 'while :; do :; done';

describe('isolation (real cgroups, real Docker)', function () {
  this.timeout(120_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ agentArgs: ['--docker', 'on', '--resources', 'cpus:2;mem:4096'] });
  });
  after(async () => {
    await cluster?.stop();
  });

  async function statsOf(taskId: string): Promise<ResourceStatistics | undefined> {
    const entries = await cluster.agents[0]!.statistics();
    return entries.find((e) => e.task_id === taskId)?.statistics;
  }

  for (const executor of ['command', 'docker'] as const) {
    const withExecutor = (body: TaskSubmission): TaskSubmission =>
      executor === 'docker' ? { ...body, container: { type: 'DOCKER', docker: { image: TEST_IMAGE } } } : body;

    it(`${executor}: a 64 MB task that allocates 256 MB is killed by the kernel and reported so`, async () => {
      const task = await cluster.submit(withExecutor({
        name: `oom-${executor}`,
        resources: { cpus: 0.5, mem: 64 },
        command: { value: ALLOCATE_256MB },
      }));
      const done = await cluster.waitForState(task.task_id, ['TASK_FAILED'], 60_000).catch(async (err: Error) => {
        throw new Error(`${err.message}; view: ${JSON.stringify(await cluster.task(task.task_id))}`);
      });
      assert.equal(done.reason, 'REASON_CONTAINER_LIMITATION_MEMORY', JSON.stringify(done));
    });

    it(`${executor}: a busy loop limited to 0.5 CPU uses 0.5 ± 0.1 CPU and is throttled`, async () => {
      const task = await cluster.submit(withExecutor({ name: `busy-${executor}`, resources: { cpus: 0.5, mem: 64 }, command: { value: BUSY_LOOP } }));
      await cluster.waitForState(task.task_id, ['TASK_RUNNING']);
      const first = await waitFor('first statistics sample', () => statsOf(task.task_id));
      await waitFor('3 s of samples', async () => ((await statsOf(task.task_id))!.timestamp - first.timestamp >= 3 ? true : undefined), 20_000, 250);
      const second = (await statsOf(task.task_id))!;
      const cpuSeconds = (s: ResourceStatistics) => (s.cpus_user_time_secs ?? 0) + (s.cpus_system_time_secs ?? 0);
      const used = (cpuSeconds(second) - cpuSeconds(first)) / (second.timestamp - first.timestamp);
      console.log(`      ${executor}: ${used.toFixed(3)} CPU used under a 0.5 limit`);
      assert.ok(Math.abs(used - 0.5) <= 0.1, `used ${used} CPU`);
      assert.equal(second.cpus_limit, 0.5);
      assert.ok((second.cpus_nr_throttled ?? 0) > (first.cpus_nr_throttled ?? 0), 'throttling counter did not grow');
      assert.ok((second.cpus_nr_periods ?? 0) > 0);
      assert.equal(second.mem_limit_bytes, 64 * 1024 * 1024);
      await cluster.kill(task.task_id);
      await cluster.waitForState(task.task_id, ['TASK_KILLED']);
    });
  }

  it('command: a fork bomb under a PID limit is contained and cleaned up', async () => {
    const task = await cluster.submit({
      name: 'fork-bomb',
      resources: { cpus: 0.5, mem: 128, pids: 64 },
      // bash, not dash: dash exits at the first failed fork, bash keeps trying.
      command: { value: "exec bash -c 'while :; do sleep 1000 & done'" },
    });
    await cluster.waitForState(task.task_id, ['TASK_RUNNING']);
    // The bomb fills its PID budget and goes no further.
    const full = await waitFor('the PID limit reached', async () => {
      const s = await statsOf(task.task_id);
      return s && (s.processes ?? 0) >= 60 ? s : undefined;
    }, 20_000, 200);
    assert.ok((full.processes ?? 0) <= 64, `processes ${full.processes}`);
    await cluster.kill(task.task_id);
    await cluster.waitForState(task.task_id, ['TASK_KILLED']);
    const agent = cluster.agents[0]!;
    const dirs = await cgroupDirs(agent.cgroupsRoot);
    await waitFor('the task cgroups removed', () => {
      const left = dirs.filter((d) => existsSync(d)).flatMap((d) => listChildren(d));
      return left.length === 0 ? true : undefined;
    }, 15_000);
  });
});

/** Container cgroups (directories) left under an agent's cgroup root, except Docker's parent. */
function listChildren(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && e.name !== 'docker')
    .map((e) => `${dir}/${e.name}`);
}
