import assert from 'node:assert/strict';
import type { TaskView } from '../../common/index.js';
import { FakeServer, runCli } from '../testing/fake-http.js';
import { taskView } from '../testing/task-views.js';

describe('tessera ps / kill / agents (built CLI against a fake master)', () => {
  let master: FakeServer;
  const tasks: TaskView[] = [
    taskView('t-running', 'TASK_RUNNING', {
      name: 'web',
      agent_id: 'a1',
      agent: { id: 'a1', hostname: 'node-1', ip: '127.0.0.1', port: 5051 },
      resources: { cpus: 0.5, mem: 128 },
    }),
    taskView('t-staging', 'TASK_STAGING'),
    taskView('t-done', 'TASK_FINISHED'),
  ];

  before(async () => {
    master = await FakeServer.start();
    master
      .on('GET', '/api/v1/tasks', () => ({ status: 200, body: { tasks } }))
      .on('DELETE', '/api/v1/tasks/t-running', () => ({ status: 202, body: { ...tasks[0], state: 'TASK_KILLING' } }))
      .on('GET', '/master/state', () => ({
        status: 200,
        body: {
          id: 'm1',
          slaves: [
            {
              id: 'a1',
              pid: 'slave(1)@127.0.0.1:5051',
              hostname: 'node-1',
              port: 5051,
              resources: { cpus: 4, mem: 8192 },
              used_resources: { cpus: 0.5, mem: 128 },
              active: true,
            },
          ],
        },
      }));
  });
  after(async () => {
    await master.stop();
  });

  it('ps --json lists the tasks not yet ended; --all adds the others', async () => {
    const result = await runCli(['ps', '--master', master.hostPort, '--json']);
    assert.equal(result.code, 0, result.stderr);
    const body = JSON.parse(result.stdout) as { tasks: TaskView[] };
    assert.deepEqual(body.tasks.map((task) => task.task_id).sort(), ['t-running', 't-staging']);
    const all = await runCli(['ps', '--master', master.hostPort, '--json', '--all']);
    assert.equal((JSON.parse(all.stdout) as { tasks: TaskView[] }).tasks.length, 3);
  });

  it('ps prints a table', async () => {
    const result = await runCli(['ps', '--master', master.hostPort]);
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ID\s+NAME\s+STATE\s+AGENT\s+CPUS\s+MEM\s+AGE$/);
    assert.equal(lines.length, 3);
    assert.ok(lines.some((line) => /^t-running\s+web\s+TASK_RUNNING\s+node-1\s+0\.5\s+128M\s+1m$/.test(line)), result.stdout);
  });

  it('kill asks the master to kill the task', async () => {
    const result = await runCli(['kill', 't-running', '--master', master.hostPort]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /killing task t-running/);
    assert.ok(master.requests.some((request) => request.method === 'DELETE' && request.path === '/api/v1/tasks/t-running'));
  });

  it('kill of an unknown task says so and exits 1', async () => {
    const result = await runCli(['kill', 'nope', '--master', master.hostPort]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: no such task: nope$/m);
  });

  it('agents prints id, hostname, address, used/total and whether active', async () => {
    const result = await runCli(['agents', '--master', master.hostPort]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ID\s+HOSTNAME\s+ADDRESS\s+CPUS\s+MEM\s+ACTIVE$/m);
    assert.match(result.stdout, /^a1\s+node-1\s+127\.0\.0\.1:5051\s+0\.5\/4\s+128M\/8G\s+yes$/m);
  });
});
