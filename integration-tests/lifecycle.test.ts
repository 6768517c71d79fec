// A task's life through the HTTP API: run, fail, wait for resources, kill with grace, bad input.
import assert from 'node:assert/strict';
import { requestJson, type TaskView } from '../common/index.js';
import { TEST_IMAGE, TestCluster } from './harness/cluster.js';
import { waitFor } from './harness/wait.js';

describe('task life cycle', function () {
  this.timeout(90_000);
  let cluster: TestCluster;

  before(async () => {
    cluster = await TestCluster.start({ agentArgs: ['--docker', 'on', '--resources', 'cpus:1;mem:256'] });
  });
  after(async () => {
    await cluster?.stop();
  });

  async function sandboxFile(view: TaskView, file: 'stdout' | 'stderr'): Promise<string> {
    const agent = cluster.agents[0]!;
    const state = await requestJson<{ tasks: AgentTask[]; completed_tasks: AgentTask[] }>(`${agent.url}/state`);
    const task = [...state.tasks, ...state.completed_tasks].find((t) => t.id === view.task_id);
    assert.ok(task, `agent does not know ${view.task_id}`);
    const read = await requestJson<{ data: string; offset: number }>(
      `${agent.url}/files/read?path=${encodeURIComponent(`${task.directory}/${file}`)}&offset=0`,
    );
    return read.data;
  }

  it('runs a command task to TASK_FINISHED through STARTING and RUNNING, output in its sandbox', async () => {
    const task = await cluster.submit({ name: 'hello', resources: { cpus: 0.1, mem: 32 }, command: { value: 'echo hello from $TESSERA_TASK_ID' } });
    assert.equal(task.state, 'TASK_STAGING');
    const done = await cluster.waitForState(task.task_id, ['TASK_FINISHED']);
    assert.deepEqual(done.statuses.map((s) => s.state), ['TASK_STAGING', 'TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED'].filter((s) => done.statuses.some((x) => x.state === s)));
    assert.ok(done.statuses.some((s) => s.state === 'TASK_RUNNING'), JSON.stringify(done.statuses));
    assert.match(await sandboxFile(done, 'stdout'), /hello from/);
  });

  it('serves sandbox files and nothing outside the sandboxes', async () => {
    const agent = cluster.agents[0]!;
    for (const path of ['/etc/passwd', `${agent.workDir}/agent/agent.json`, `${agent.workDir}/agent/sandboxes/../agent.json`]) {
      const response = await fetch(`${agent.url}/files/read?path=${encodeURIComponent(path)}&offset=0`);
      assert.equal(response.status, 403, `${path}: ${response.status} ${await response.text()}`);
    }
  });

  it('runs a docker task to TASK_FINISHED', async () => {
    const task = await cluster.submit({
      name: 'hello-docker',
      resources: { cpus: 0.1, mem: 32 },
      container: { type: 'DOCKER', docker: { image: TEST_IMAGE } },
      command: { value: 'echo in a container; cat /proc/self/cgroup | grep -c docker' },
    });
    const done = await cluster.waitForState(task.task_id, ['TASK_FINISHED']);
    assert.match(await sandboxFile(done, 'stdout'), /in a container/);
  });

  it('reports a failing command as TASK_FAILED with its exit code', async () => {
    const task = await cluster.submit({ name: 'fails', resources: { cpus: 0.1, mem: 32 }, command: { value: 'echo oops >&2; exit 3' } });
    const done = await cluster.waitForState(task.task_id, ['TASK_FAILED']);
    assert.equal(done.reason, 'REASON_COMMAND_EXECUTOR_FAILED');
    const last = done.statuses[done.statuses.length - 1]!;
    assert.equal(last.container_status?.exit_code, 3);
    assert.match(await sandboxFile(done, 'stderr'), /oops/);
  });

  it('reports an image that is not there as TASK_FAILED naming the image', async () => {
    const task = await cluster.submit({
      name: 'no-image',
      resources: { cpus: 0.1, mem: 32 },
      container: { type: 'DOCKER', docker: { image: 'tessera-test/does-not-exist:1' } },
    });
    const done = await cluster.waitForState(task.task_id, ['TASK_FAILED']);
    assert.equal(done.reason, 'REASON_CONTAINER_LAUNCH_FAILED');
    assert.match(done.message ?? '', /does-not-exist/);
  });

  it('keeps a task that does not fit in TASK_STAGING until resources free up', async () => {
    const big = await cluster.submit({ name: 'big', resources: { cpus: 0.5, mem: 200 }, command: { value: 'sleep 600' } });
    await cluster.waitForState(big.task_id, ['TASK_RUNNING']);
    const waiting = await cluster.submit({ name: 'waiting', resources: { cpus: 0.5, mem: 200 }, command: { value: 'sleep 600' } });
    // It stays staged while `big` holds the memory (checked for a while, not just once).
    for (let i = 0; i < 5; i++) {
      assert.equal((await cluster.task(waiting.task_id)).state, 'TASK_STAGING');
      await new Promise((r) => setTimeout(r, 200));
    }
    await cluster.kill(big.task_id);
    await cluster.waitForState(big.task_id, ['TASK_KILLED']);
    await cluster.waitForState(waiting.task_id, ['TASK_RUNNING']);
    await cluster.kill(waiting.task_id);
    await cluster.waitForState(waiting.task_id, ['TASK_KILLED']);
  });

  it('kills with a grace period: the task gets SIGTERM first and can clean up', async () => {
    const task = await cluster.submit({
      name: 'graceful',
      resources: { cpus: 0.1, mem: 32 },
      kill_grace_period_seconds: 5,
      command: { value: 'trap "echo got SIGTERM; exit 0" TERM; echo started; while :; do sleep 0.1; done' },
    });
    await cluster.waitForState(task.task_id, ['TASK_RUNNING']);
    await waitFor('the task started', async () => ((await sandboxFile(task, 'stdout')).includes('started') ? true : undefined));
    await cluster.kill(task.task_id);
    const done = await cluster.waitForState(task.task_id, ['TASK_KILLED']);
    assert.ok(done.statuses.some((s) => s.state === 'TASK_KILLING'), JSON.stringify(done.statuses));
    assert.match(await sandboxFile(done, 'stdout'), /got SIGTERM/);
  });

  it('kills a task that ignores SIGTERM once the grace period is over', async () => {
    const task = await cluster.submit({
      name: 'stubborn',
      resources: { cpus: 0.1, mem: 32 },
      kill_grace_period_seconds: 1,
      command: { value: 'trap "" TERM; while :; do sleep 0.1; done' },
    });
    await cluster.waitForState(task.task_id, ['TASK_RUNNING']);
    const started = Date.now();
    await cluster.kill(task.task_id);
    await cluster.waitForState(task.task_id, ['TASK_KILLED'], 15_000);
    assert.ok(Date.now() - started >= 900, 'killed before the grace period ended');
  });

  describe('bad input', () => {
    async function rejection(body: unknown): Promise<{ code: string; message: string; field?: string }> {
      const response = await fetch(`${cluster.masterUrl}/api/v1/tasks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const parsed = (await response.json()) as { error: { code: string; message: string; field?: string } };
      assert.equal(response.status, 400, JSON.stringify(parsed));
      return parsed.error;
    }
    const ok = { name: 'x', resources: { cpus: 0.1, mem: 32 }, command: { value: 'true' } };
    const cases: Array<[string, unknown, string | undefined]> = [
      ['missing name', { ...ok, name: undefined }, 'name'],
      ['missing resources', { ...ok, resources: undefined }, 'resources'],
      ['negative memory', { ...ok, resources: { cpus: 0.1, mem: -1 } }, 'resources.mem'],
      ['absurd cpus', { ...ok, resources: { cpus: 100000, mem: 32 } }, 'resources.cpus'],
      ['cpus of the wrong type', { ...ok, resources: { cpus: 'two', mem: 32 } }, 'resources.cpus'],
      ['an unknown field', { ...ok, colour: 'red' }, 'colour'],
      ['no command and no image', { name: 'x', resources: { cpus: 0.1, mem: 32 } }, 'command.value'],
      ['a malformed image name', { ...ok, container: { type: 'DOCKER', docker: { image: 'NOT AN IMAGE' } } }, 'container.docker.image'],
      ['bad JSON', '{"name": ', undefined],
    ];
    for (const [what, body, field] of cases) {
      it(`answers 400 for ${what}${field ? `, naming ${field}` : ''}`, async () => {
        const error = await rejection(body);
        assert.ok(error.message.length > 0);
        if (field) assert.equal(error.field, field, error.message);
      });
    }

    it('is still serving after all that', async () => {
      const response = await fetch(`${cluster.masterUrl}/health`);
      assert.equal(response.status, 200);
    });
  });
});

interface AgentTask {
  id: string;
  directory: string;
}
