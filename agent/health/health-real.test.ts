// Health checks run by a real agent (real command executor, real cgroups of this host) against a fake
// master: the check runs in the task's sandbox, environment and cgroup; health flips travel as
// TASK_RUNNING updates; failing checks kill the task; a hung check is killed at its timeout.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  INTERNAL_PATHS,
  createLogger,
  isTerminal,
  requestJson,
  silentLogger,
  waitFor,
  type HealthCheck,
  type TaskInfo,
  type TaskStatus,
} from '../../common/index.js';
import { Agent } from '../agent.js';
import type { AgentState } from '../http/index.js';
import { FakeMaster } from '../testing/fake-master.js';
import { removeCgroupsRoot, requireRealCgroups, testCgroupsRoot, type RealCgroupVersion } from '../testing/cgroups.js';

function task(id: string, command: string, check: Partial<HealthCheck> & { command: { value: string } }): TaskInfo {
  return {
    task_id: id,
    name: id,
    agent_id: 'agent-1',
    resources: { cpus: 0.5, mem: 64 },
    command: { value: command, environment: { variables: [{ name: 'GREETING', value: 'hi' }] } },
    health_check: { type: 'COMMAND', delay_seconds: 0, interval_seconds: 0.2, timeout_seconds: 2, grace_period_seconds: 0, consecutive_failures: 3, ...check },
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('health checks on a real agent (real cgroups)', function () {
  this.timeout(30_000);
  let version: RealCgroupVersion;
  let workDir: string;
  let cgroupsRoot: string;
  let master: FakeMaster;
  let agent: Agent | undefined;

  const launch = (t: TaskInfo) => requestJson(`${agent?.url ?? ''}${INTERNAL_PATHS.launch}`, { body: { task: t } });
  /** One task's updates, without retransmissions. */
  const updates = (taskId: string): TaskStatus[] => {
    const seen = new Set<string>();
    return master.received.filter((u) => u.task_id === taskId && !seen.has(u.uuid) && seen.add(u.uuid));
  };
  const healthOf = (taskId: string): Array<boolean | undefined> =>
    updates(taskId).filter((u) => u.reason === 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED').map((u) => u.healthy);
  const terminal = (taskId: string) =>
    waitFor(`${taskId} terminal`, () => {
      const last = master.lastUpdate(taskId);
      return last && isTerminal(last.state) ? last : undefined;
    }, 20_000);
  async function sandboxOf(taskId: string): Promise<string> {
    const state = await requestJson<AgentState>(`${agent?.url ?? ''}/state`);
    const found = [...state.tasks, ...state.completed_tasks].find((t) => t.id === taskId);
    assert.ok(found, `task ${taskId} in /state`);
    return found.directory;
  }

  beforeEach(async function () {
    version = await requireRealCgroups(this);
    workDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-health-'));
    cgroupsRoot = testCgroupsRoot();
    master = await FakeMaster.start();
    agent = await Agent.create({
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
      logger: process.env.AGENT_TEST_LOG ? createLogger('agent', 'debug') : silentLogger,
    });
    await agent.registered();
  });

  afterEach(async () => {
    if (agent) {
      const state = await requestJson<AgentState>(`${agent.url}/state`).catch(() => undefined);
      for (const t of state?.tasks ?? []) {
        await requestJson(`${agent.url}${INTERNAL_PATHS.kill(t.id)}`, { method: 'POST', body: { grace_period_seconds: 0 } }).catch(() => undefined);
        await terminal(t.id).catch(() => undefined);
      }
      await agent.statusUpdatesDelivered();
      await agent.stop();
      agent = undefined;
    }
    await master?.stop();
    if (cgroupsRoot) await removeCgroupsRoot(version, cgroupsRoot);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('runs the check in the sandbox, with the task environment, in the task cgroup; flips health; kills after consecutive failures', async () => {
    // The check records where it ran, then passes while the flag file exists.
    await launch(task('web', 'cat /proc/self/cgroup > task-cgroup; exec sleep 60', { command: { value: 'echo "$GREETING $PWD" > check-env; cat /proc/self/cgroup > check-cgroup; test -f flag' } }));
    await waitFor('healthy:false', () => healthOf('web').includes(false), 10_000);
    const sandbox = await sandboxOf('web');
    assert.equal((await readFile(path.join(sandbox, 'check-env'), 'utf8')).trim(), `hi ${sandbox}`);
    const checkCgroups = await readFile(path.join(sandbox, 'check-cgroup'), 'utf8');
    assert.ok(checkCgroups.includes(`/${cgroupsRoot}/`), checkCgroups);
    assert.equal(checkCgroups, await readFile(path.join(sandbox, 'task-cgroup'), 'utf8'), 'the check ran in the task cgroups');

    await writeFile(path.join(sandbox, 'flag'), '');
    await waitFor('healthy:true', () => healthOf('web').at(-1) === true, 10_000);
    const running = updates('web').filter((u) => u.state === 'TASK_RUNNING');
    assert.equal(running[0]?.healthy, undefined, 'the first RUNNING has no health yet');
    assert.ok(running.slice(1).every((u) => u.source === 'SOURCE_EXECUTOR'));

    await unlink(path.join(sandbox, 'flag'));
    const final = await terminal('web');
    assert.equal(final.state, 'TASK_KILLED', final.message);
    assert.equal(final.healthy, false);
    assert.match(final.message ?? '', /3 consecutive failed health checks/);
    assert.deepEqual(healthOf('web'), [false, true, false]);
  });

  it('kills a hung check at its timeout (a failure) and leaves no process behind', async () => {
    await launch(
      task('slow', 'sleep 60', {
        command: { value: 'echo $$ >> check-pids; exec sleep 30' },
        timeout_seconds: 0.5,
        interval_seconds: 0.2,
        consecutive_failures: 0,
      }),
    );
    await waitFor('healthy:false', () => healthOf('slow').includes(false), 10_000);
    const message = updates('slow').find((u) => u.healthy === false)?.message ?? '';
    assert.match(message, /timed out after 0.5 s/);
    const sandbox = await sandboxOf('slow');
    const pids = (await readFile(path.join(sandbox, 'check-pids'), 'utf8')).trim().split('\n').map(Number);
    const first = pids[0];
    assert.ok(first !== undefined && first > 0);
    await waitFor('the timed-out check to be gone', () => !pidAlive(first), 5000);
    // consecutive_failures 0: never killed for it.
    assert.equal(master.lastUpdate('slow')?.state, 'TASK_RUNNING');
  });

  it('a task that ends by itself keeps its last health on the final update', async () => {
    await launch(task('short', 'sleep 1', { command: { value: 'true' } }));
    const final = await terminal('short');
    assert.equal(final.state, 'TASK_FINISHED');
    assert.equal(final.healthy, true);
    assert.deepEqual(healthOf('short'), [true]);
  });
});
