import assert from 'node:assert/strict';
import type { TaskSubmission, TaskView } from '../../common/index.js';
import { FakeServer, runCli } from '../testing/fake-http.js';
import { status, taskView } from '../testing/task-views.js';

describe('tessera run (built CLI against a fake master)', () => {
  let master: FakeServer;

  beforeEach(async () => {
    master = await FakeServer.start();
  });
  afterEach(async () => {
    await master.stop();
  });

  /** The master accepts any submission as task t1 and answers GETs with `views` in turn (the last one repeats). */
  function serve(views: TaskView[]): void {
    master.on('POST', '/api/v1/tasks', () => ({ status: 201, body: taskView('t1', 'TASK_STAGING') }));
    let polls = 0;
    master.on('GET', '/api/v1/tasks/t1', () => {
      const view = views[Math.min(polls, views.length - 1)];
      polls += 1;
      return { status: 200, body: view };
    });
  }

  function submitted(): TaskSubmission {
    const post = master.requests.find((request) => request.method === 'POST');
    assert.ok(post, 'no task was submitted');
    return post.body as TaskSubmission;
  }

  it('prints the id, follows the states and exits 0 on TASK_FINISHED', async () => {
    const running = [status('t1', 'TASK_STAGING', {}, 1), status('t1', 'TASK_RUNNING', {}, 2)];
    serve([
      taskView('t1', 'TASK_RUNNING', { statuses: running }),
      taskView('t1', 'TASK_FINISHED', { statuses: [...running, status('t1', 'TASK_FINISHED', { message: 'exited 0' }, 3)] }),
    ]);
    const result = await runCli(['run', '--master', master.hostPort, '--', 'sh', '-c', 'exit 0']);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 't1\n');
    assert.match(result.stderr, /TASK_STAGING\nTASK_RUNNING\nTASK_FINISHED: exited 0\n/);
    assert.deepEqual(submitted(), {
      name: 'sh',
      resources: { cpus: 0.1, mem: 64 },
      command: { shell: true, value: "sh -c 'exit 0'" },
    });
  });

  it('exits 1 on TASK_FAILED and prints the state, reason and message', async () => {
    serve([
      taskView('t1', 'TASK_FAILED', {
        reason: 'REASON_COMMAND_EXECUTOR_FAILED',
        message: 'exited with status 3',
        statuses: [status('t1', 'TASK_FAILED', { reason: 'REASON_COMMAND_EXECUTOR_FAILED', message: 'exited with status 3' })],
      }),
    ]);
    const result = await runCli(['run', '--master', `http://${master.hostPort}`, '--', 'exit 3']);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(result.stdout, 't1\n');
    assert.match(result.stderr, /task t1 ended TASK_FAILED \(REASON_COMMAND_EXECUTOR_FAILED\): exited with status 3/);
    assert.equal(submitted().command?.value, 'exit 3');
  });

  it('with --detach prints only the id and does not follow', async () => {
    serve([taskView('t1', 'TASK_RUNNING')]);
    const result = await runCli([
      'run', '--master', master.hostPort, '--detach', '--image', 'tessera-test/busybox:latest',
      '--cpus', '0.5', '--mem', '128', '--pids', '64', '--grace', '10s',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 't1\n');
    assert.equal(master.requests.filter((request) => request.method === 'GET').length, 0);
    assert.deepEqual(submitted(), {
      name: 'busybox',
      resources: { cpus: 0.5, mem: 128, pids: 64 },
      container: { type: 'DOCKER', docker: { image: 'tessera-test/busybox:latest' } },
      kill_grace_period_seconds: 10,
    });
  });

  it('passes the command with an image, and --name', async () => {
    serve([taskView('t1', 'TASK_RUNNING')]);
    const result = await runCli(['run', '--master', master.hostPort, '--detach', '--image', 'busybox', '--name', 'web', '--', 'httpd', '-f']);
    assert.equal(result.code, 0, result.stderr);
    const body = submitted();
    assert.equal(body.name, 'web');
    assert.deepEqual(body.command, { shell: true, value: 'httpd -f' });
    assert.deepEqual(body.container, { type: 'DOCKER', docker: { image: 'busybox' } });
  });

  it('exits 2 and names the field when the master answers 400', async () => {
    master.on('POST', '/api/v1/tasks', () => ({
      status: 400,
      body: { error: { code: 'INVALID_REQUEST', message: 'resources.mem: must be >= 4', field: 'resources.mem' } },
    }));
    const result = await runCli(['run', '--master', master.hostPort, '--mem', '1', '--', 'true']);
    assert.equal(result.code, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /^error: resources\.mem: must be >= 4$/m);
  });

  it('stops following on Ctrl-C with exit 130 and says how to kill the task', async () => {
    serve([taskView('t1', 'TASK_RUNNING', { statuses: [status('t1', 'TASK_RUNNING')] })]);
    let interrupted = false;
    const result = await runCli(['run', '--master', master.hostPort, '--', 'sleep', '100'], {
      onStdout: (stdout, child) => {
        if (!interrupted && stdout.includes('t1\n')) {
          interrupted = true;
          child.kill('SIGINT');
        }
      },
    });
    assert.equal(result.code, 130, result.stderr);
    assert.match(result.stderr, new RegExp(`tessera kill t1 --master ${master.hostPort}`));
    assert.equal(master.requests.some((request) => request.method === 'DELETE'), false);
  });

  it('rejects a bad flag value or nothing to run with exit 2, before calling the master', async () => {
    const bad = await runCli(['run', '--master', master.hostPort, '--cpus', 'lots', '--', 'true']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--cpus.*'lots' is not a positive number/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
    const nothing = await runCli(['run', '--master', master.hostPort]);
    assert.equal(nothing.code, 2);
    assert.match(nothing.stderr, /nothing to run/);
    assert.equal(master.requests.length, 0);
  });

  it('says it cannot reach the master and exits 1', async () => {
    const port = master.port;
    await master.stop();
    const result = await runCli(['run', '--master', `127.0.0.1:${port}`, '--', 'true']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`^error: cannot reach the master at 127\\.0\\.0\\.1:${port} \\(connection refused\\)`));
    master = await FakeServer.start(); // for afterEach
  });
});
