import assert from 'node:assert/strict';
import type { TaskView } from '../../common/index.js';
import { FakeServer, runCli, type RecordedRequest, type Reply } from '../testing/fake-http.js';
import { taskView } from '../testing/task-views.js';

/** The agent's /files/read semantics (Mesos): bytes from offset, at most length; offset -1 gives the size. */
function filesRead(files: Map<string, Buffer>, request: RecordedRequest): Reply {
  const content = files.get(request.query.get('path') ?? '');
  if (content === undefined) return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such file' } } };
  const offset = Number(request.query.get('offset') ?? '0');
  if (offset === -1) return { status: 200, body: { data: '', offset: content.length } };
  const length = Number(request.query.get('length') ?? String(content.length));
  return { status: 200, body: { data: content.subarray(offset, offset + length).toString('utf8'), offset } };
}

describe('tessera logs (built CLI against a fake master and agent)', () => {
  let master: FakeServer;
  let agent: FakeServer;
  let files: Map<string, Buffer>;
  let task: TaskView;
  /** Called after each /files/read answer: lets a test change the file or the task between reads. */
  let afterRead: ((request: RecordedRequest) => void) | undefined;

  beforeEach(async () => {
    master = await FakeServer.start();
    agent = await FakeServer.start();
    files = new Map();
    afterRead = undefined;
    task = taskView('t1', 'TASK_RUNNING', { agent: { id: 'a1', hostname: 'node-1', ip: '127.0.0.1', port: agent.port } });
    master.on('GET', '/api/v1/tasks/t1', () => ({ status: 200, body: task }));
    agent
      .on('GET', '/state', () => ({
        status: 200,
        body: {
          id: 'a1',
          tasks: [{ id: 't1', name: 'sleep', state: task.state, directory: '/sandboxes/t1/' }],
          completed_tasks: [{ id: 't0', name: 'old', state: 'TASK_FINISHED', directory: '/sandboxes/t0' }],
        },
      }))
      .on('GET', '/files/read', (request) => {
        const reply = filesRead(files, request);
        afterRead?.(request);
        return reply;
      });
  });
  afterEach(async () => {
    await master.stop();
    await agent.stop();
  });

  it("prints the task's whole stdout, page by page", async () => {
    files.set('/sandboxes/t1/stdout', Buffer.from('x'.repeat(256 * 1024) + 'y'.repeat(256 * 1024) + 'tail\n'));
    const result = await runCli(['logs', 't1', '--master', master.hostPort]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'x'.repeat(256 * 1024) + 'y'.repeat(256 * 1024) + 'tail\n');
    const reads = agent.requests.filter((request) => request.path === '/files/read' && request.query.get('offset') !== '-1');
    assert.deepEqual(
      reads.map((request) => request.query.get('offset')),
      ['0', String(256 * 1024), String(512 * 1024)],
    );
  });

  it('prints --stderr of a completed task, multi-byte text intact', async () => {
    task = taskView('t0', 'TASK_FINISHED', { agent: { id: 'a1', hostname: 'node-1', ip: '127.0.0.1', port: agent.port } });
    master.on('GET', '/api/v1/tasks/t0', () => ({ status: 200, body: task }));
    files.set('/sandboxes/t0/stderr', Buffer.from('grüße, 世界\n'));
    files.set('/sandboxes/t0/stdout', Buffer.from('not this\n'));
    const result = await runCli(['logs', 't0', '--stderr', '--master', master.hostPort]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'grüße, 世界\n');
  });

  it('--follow prints new output until the task ends', async () => {
    files.set('/sandboxes/t1/stdout', Buffer.from('one\n'));
    // Once the CLI has read the first line, the task writes another and finishes.
    afterRead = (request) => {
      if (request.query.get('offset') !== '0') return;
      files.set('/sandboxes/t1/stdout', Buffer.from('one\ntwo\n'));
      task = { ...task, state: 'TASK_FINISHED' };
    };
    const result = await runCli(['logs', 't1', '--follow', '--master', master.hostPort]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, 'one\ntwo\n');
  });

  it('says so when the task is unknown (exit 1)', async () => {
    const result = await runCli(['logs', 'nope', '--master', master.hostPort]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^error: no such task: nope$/m);
  });

  it('says so when the agent has no sandbox for the task (exit 1)', async () => {
    task = taskView('t9', 'TASK_RUNNING', { agent: { id: 'a1', hostname: 'node-1', ip: '127.0.0.1', port: agent.port } });
    master.on('GET', '/api/v1/tasks/t9', () => ({ status: 200, body: task }));
    const result = await runCli(['logs', 't9', '--master', master.hostPort]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /has no sandbox for task t9/);
  });
});
