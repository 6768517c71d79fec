import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger, waitFor, type TaskInfo, type TaskStatus } from '../../common/index.js';
import { CheckpointStore } from '../checkpoint/index.js';
import { FakeMaster, freePort } from '../testing/fake-master.js';
import { StatusUpdateManager } from './status-update-manager.js';

const tasks: TaskInfo[] = ['a', 'b'].map((id) => ({ task_id: id, name: id, agent_id: 'agent-1', resources: { cpus: 1, mem: 32 } }));

function update(taskId: string, state: TaskStatus['state'], uuid: string): TaskStatus {
  return { task_id: taskId, state, source: 'SOURCE_EXECUTOR', timestamp: Date.now() / 1000, uuid };
}

describe('status update manager', () => {
  let dir: string;
  let store: CheckpointStore;
  let manager: StatusUpdateManager | undefined;
  let master: FakeMaster | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-sum-'));
    store = await CheckpointStore.create({ dir, logger: silentLogger });
    for (const task of tasks) await store.saveTask(task, { container_id: `c-${task.task_id}`, sandbox_dir: '/x', kind: 'command' });
  });
  afterEach(async () => {
    manager?.stop();
    await master?.stop();
    master = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('retries while the master is down, then delivers every update in order per task and records the acks', async () => {
    const port = await freePort();
    manager = new StatusUpdateManager({ store, logger: silentLogger, retryMinMs: 20, retryMaxMs: 100 });
    manager.resume(`http://127.0.0.1:${port}`, 'agent-1');
    await manager.enqueue(update('a', 'TASK_STARTING', 'a1'));
    await manager.enqueue(update('b', 'TASK_STARTING', 'b1'));
    await manager.enqueue(update('a', 'TASK_RUNNING', 'a2'));
    await manager.enqueue(update('a', 'TASK_FINISHED', 'a3'));
    await manager.enqueue(update('b', 'TASK_FAILED', 'b2'));

    // Checkpointed before any was delivered: nothing listens yet.
    const before = await store.loadTasks();
    assert.deepEqual(before.find((t) => t.task.task_id === 'a')?.updates.map((u) => u.uuid), ['a1', 'a2', 'a3']);
    assert.equal(manager.pending('a').length, 3);

    // The master comes up, and answers 503 a few times before it acknowledges.
    master = await FakeMaster.start({ port, knownAgents: ['agent-1'] });
    master.failStatusUpdates = 2;
    await waitFor('all updates delivered', () => manager?.pending('a').length === 0 && manager.pending('b').length === 0);
    await manager.idle();

    assert.deepEqual(master.statesOf('a'), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    assert.deepEqual(master.statesOf('b'), ['TASK_STARTING', 'TASK_FAILED']);
    const after = await store.loadTasks();
    for (const t of after) assert.equal(t.acknowledged.size, t.updates.length, `${t.task.task_id} acks recorded`);
  });

  it('holds updates until resumed, and asks for re-registration on AGENT_UNKNOWN', async () => {
    master = await FakeMaster.start();
    let unknown = 0;
    manager = new StatusUpdateManager({ store, logger: silentLogger, retryMinMs: 20, retryMaxMs: 100, onAgentUnknown: () => unknown++ });
    await manager.enqueue(update('a', 'TASK_STARTING', 'a1'));
    // Not resumed: nothing is sent. Resume with an id the master does not know.
    manager.resume(`http://${master.address}`, 'stranger');
    await waitFor('agent-unknown reported', () => unknown === 1);
    assert.equal(master.received.length, 0);
    assert.equal(manager.pending('a').length, 1);
    // Re-registered: resume sends what is pending.
    await fetch(`http://${master.address}/internal/v1/agents/register`, { method: 'POST', body: JSON.stringify({ agent_id: 'stranger', info: {}, tasks: [] }) });
    manager.resume(`http://${master.address}`, 'stranger');
    await waitFor('delivered after resume', () => manager?.pending('a').length === 0);
    assert.deepEqual(master.statesOf('a'), ['TASK_STARTING']);
    assert.equal(master.received[0]?.agent_id, 'stranger');
  });
});
