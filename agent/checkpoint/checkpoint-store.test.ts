import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger, waitFor, type TaskInfo, type TaskStatus } from '../../common/index.js';
import type { TaskHandle } from '../../executors/index.js';
import { CheckpointStore } from './checkpoint-store.js';

const task: TaskInfo = { task_id: 'web.1', name: 'web', agent_id: 'agent-1', resources: { cpus: 0.5, mem: 64 }, command: { value: 'sleep 1' } };

function update(state: TaskStatus['state'], uuid: string): TaskStatus {
  return { task_id: task.task_id, state, source: 'SOURCE_EXECUTOR', timestamp: 1, uuid };
}

describe('agent checkpoint store', () => {
  let dir: string;
  let store: CheckpointStore;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-ckpt-'));
    store = await CheckpointStore.create({ dir, logger: silentLogger });
  });
  afterEach(async () => {
    // Open update logs would otherwise be closed by the garbage collector (a Node warning).
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips the agent id, task, handle, updates and acknowledgements', async () => {
    assert.equal(await store.loadAgentId(), undefined);
    await store.saveAgentId('agent-1');
    const handle: TaskHandle = { kind: 'command', taskId: task.task_id, containerId: 'c1', sandboxDir: store.sandboxDirFor('c1'), pid: 12, startedAt: 5 };
    await store.saveTask(task, { container_id: 'c1', sandbox_dir: handle.sandboxDir, kind: 'command' });
    await store.saveHandle(task.task_id, handle);
    await Promise.all([store.appendUpdate(task.task_id, update('TASK_STARTING', 'u1')), store.appendUpdate(task.task_id, update('TASK_RUNNING', 'u2'))]);
    await store.appendAck(task.task_id, 'u1');

    const reopened = await CheckpointStore.create({ dir, logger: silentLogger });
    assert.equal(await reopened.loadAgentId(), 'agent-1');
    const [loaded, ...rest] = await reopened.loadTasks();
    assert.equal(rest.length, 0);
    assert.ok(loaded);
    assert.deepEqual(loaded.task, task);
    assert.deepEqual(loaded.handle, handle);
    assert.equal(loaded.container.container_id, 'c1');
    assert.deepEqual(loaded.updates.map((u) => u.uuid), ['u1', 'u2']);
    assert.deepEqual([...loaded.acknowledged], ['u1']);
  });

  it('keeps a task\'s update log open between appends until released, removed or closed', async () => {
    /** This process's open descriptors on the task's updates.log. */
    const openLogs = async (): Promise<number> => {
      const fds = await readdir('/proc/self/fd');
      const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
      return targets.filter((t) => t.startsWith(dir) && t.endsWith('updates.log')).length;
    };
    await store.saveTask(task, { container_id: 'c1', sandbox_dir: '/x', kind: 'command' });
    await store.appendUpdate(task.task_id, update('TASK_STARTING', 'u1'));
    await store.appendAck(task.task_id, 'u1');
    assert.equal(await openLogs(), 1, 'one handle, reused');
    store.releaseLog(task.task_id);
    await waitFor('the log closed', async () => (await openLogs()) === 0);
    // Appends after a release reopen it and land after what is there.
    await store.appendUpdate(task.task_id, update('TASK_RUNNING', 'u2'));
    assert.equal(await openLogs(), 1);
    const lines = (await readFile(path.join(store.tasksDir, `task-${task.task_id}`, 'updates.log'), 'utf8')).trim().split('\n');
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { update?: TaskStatus; ack?: string }).update?.uuid ?? 'ack'), ['u1', 'ack', 'u2']);
    await store.removeTask(task.task_id);
    assert.equal(await openLogs(), 0);
    await store.saveTask(task, { container_id: 'c1', sandbox_dir: '/x', kind: 'command' });
    await store.appendUpdate(task.task_id, update('TASK_STARTING', 'u3'));
    await store.close();
    assert.equal(await openLogs(), 0);
  });

  it('keeps the handle in the update log, reads an older agent\'s handle.json, and drops a torn handle line', async () => {
    const handle: TaskHandle = { kind: 'command', taskId: task.task_id, containerId: 'c1', sandboxDir: '/x', pid: 42, startedAt: 5 };
    await store.saveTask(task, { container_id: 'c1', sandbox_dir: '/x', kind: 'command' });
    const taskDir = path.join(store.tasksDir, `task-${task.task_id}`);
    // An older agent's checkpoint: handle.json, nothing in the log.
    await writeFile(path.join(taskDir, 'handle.json'), JSON.stringify({ ...handle, pid: 7 }));
    assert.equal((await store.loadTasks())[0]?.handle?.pid, 7);
    // The log's handle wins.
    await store.appendUpdate(task.task_id, update('TASK_STARTING', 'u1'));
    await store.saveHandle(task.task_id, handle);
    assert.deepEqual((await store.loadTasks())[0]?.handle, handle);
    await rm(path.join(taskDir, 'handle.json'));
    await store.close();
    // A crash mid-append of a later handle line: the torn line is dropped, the intact one stays.
    await appendFile(path.join(taskDir, 'updates.log'), '{"handle":{"kind":"command","pid":9');
    const reopened = await CheckpointStore.create({ dir, logger: silentLogger });
    assert.deepEqual((await reopened.loadTasks())[0]?.handle, handle);
  });

  it('close() lets writes under way land and refuses later ones', async () => {
    await store.saveTask(task, { container_id: 'c1', sandbox_dir: store.sandboxDirFor('c1'), kind: 'command' });
    const underWay = store.appendUpdate(task.task_id, update('TASK_STARTING', 'u1'));
    await store.close();
    await underWay;
    await assert.rejects(store.appendUpdate(task.task_id, update('TASK_RUNNING', 'u2')), { code: 'STOPPED' });
    await assert.rejects(store.saveAgentId('agent-2'), { code: 'STOPPED' });
    const [loaded] = await (await CheckpointStore.create({ dir, logger: silentLogger })).loadTasks();
    assert.deepEqual(loaded?.updates.map((u) => u.uuid), ['u1']);
  });

  it('drops a torn last line of the update log and keeps appending after it', async () => {
    await store.saveTask(task, { container_id: 'c1', sandbox_dir: store.sandboxDirFor('c1'), kind: 'command' });
    await store.appendUpdate(task.task_id, update('TASK_STARTING', 'u1'));
    const logFile = path.join(dir, 'tasks', `task-${task.task_id}`, 'updates.log');
    await appendFile(logFile, '{"update":{"task_id":"web.1","sta'); // a crash mid-append

    const [loaded] = await store.loadTasks();
    assert.deepEqual(loaded?.updates.map((u) => u.uuid), ['u1']);
    await store.appendUpdate(task.task_id, update('TASK_RUNNING', 'u2'));
    const [again] = await store.loadTasks();
    assert.deepEqual(again?.updates.map((u) => u.uuid), ['u1', 'u2']);
    assert.ok(!(await readFile(logFile, 'utf8')).includes('"sta{'));
  });

  it('removes a task directory that never got its task.json', async () => {
    const half = path.join(dir, 'tasks', 'task-half');
    await mkdir(half, { recursive: true });
    assert.deepEqual(await store.loadTasks(), []);
    await assert.rejects(readFile(path.join(half, 'container.json')));
  });

  it('keeps task ids like ".." inside the tasks directory', async () => {
    const odd = { ...task, task_id: '..' };
    await store.saveTask(odd, { container_id: 'c2', sandbox_dir: store.sandboxDirFor('c2'), kind: 'command' });
    const loaded = await store.loadTasks();
    assert.deepEqual(loaded.map((t) => t.task.task_id), ['..']);
  });
});
