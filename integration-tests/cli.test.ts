// The `tessera` command against a real master and agent.
import assert from 'node:assert/strict';
import { tessera } from './harness/cli.js';
import { TEST_IMAGE, TestCluster } from './harness/cluster.js';

describe('tessera CLI', function () {
  this.timeout(90_000);
  let cluster: TestCluster;
  let master: string[];

  before(async () => {
    cluster = await TestCluster.start({ agentArgs: ['--docker', 'on', '--resources', 'cpus:2;mem:1024'] });
    master = ['--master', `127.0.0.1:${cluster.masterPort}`];
  });
  after(async () => {
    await cluster?.stop();
  });

  it('run: prints the task id, follows it, exits 0 on TASK_FINISHED', async () => {
    const result = await tessera(['run', ...master, '--mem', '32', '--', 'echo', 'hi from the cli']);
    assert.equal(result.code, 0, result.stderr);
    const taskId = result.stdout.trim().split('\n')[0]!;
    assert.equal((await cluster.task(taskId)).state, 'TASK_FINISHED');
    assert.match(result.stderr, /TASK_RUNNING/);
    assert.match(result.stderr, /TASK_FINISHED/);

    const logs = await tessera(['logs', ...master, taskId]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /hi from the cli/);
  });

  it('run: exits non-zero and prints state and reason when the task fails', async () => {
    const result = await tessera(['run', ...master, '--image', TEST_IMAGE, '--mem', '64', '--', 'dd if=/dev/zero of=/dev/null bs=256M count=1']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /TASK_FAILED/);
    assert.match(result.stderr, /REASON_CONTAINER_LIMITATION_MEMORY/);
  });

  it('run --detach prints only the task id; ps, top, agents and kill see it', async () => {
    const result = await tessera(['run', ...master, '--detach', '--name', 'sleeper', '--cpus', '0.2', '--mem', '32', '--', 'sleep 600']);
    assert.equal(result.code, 0, result.stderr);
    const taskId = result.stdout.trim();
    assert.match(taskId, /^sleeper\.[0-9a-f]+$/);
    await cluster.waitForState(taskId, ['TASK_RUNNING']);

    const ps = await tessera(['ps', ...master, '--json']);
    assert.equal(ps.code, 0, ps.stderr);
    const rows = (JSON.parse(ps.stdout) as { tasks: Array<{ task_id: string; state: string }> }).tasks;
    assert.ok(rows.some((r) => r.task_id === taskId && r.state === 'TASK_RUNNING'), ps.stdout);

    const table = await tessera(['ps', ...master]);
    assert.match(table.stdout, new RegExp(taskId.replace('.', '\\.')));

    const top = await tessera(['top', ...master, '--once', '--json']);
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout, new RegExp(taskId.replace('.', '\\.')));
    assert.match(top.stdout, /cpus_limit/);

    const agents = await tessera(['agents', ...master, '--json']);
    assert.equal(agents.code, 0, agents.stderr);
    assert.equal((JSON.parse(agents.stdout) as { slaves: unknown[] }).slaves.length, 1);

    const kill = await tessera(['kill', ...master, taskId]);
    assert.equal(kill.code, 0, kill.stderr);
    await cluster.waitForState(taskId, ['TASK_KILLED']);
  });

  it('refuses bad flags with a message and a non-zero exit, without a stack trace', async () => {
    const result = await tessera(['run', ...master, '--mem', 'lots', '--', 'true']);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /mem/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
    const unreachable = await tessera(['ps', '--master', '127.0.0.1:1']);
    assert.notEqual(unreachable.code, 0);
    assert.match(unreachable.stderr, /cannot reach/i);
  });
});
