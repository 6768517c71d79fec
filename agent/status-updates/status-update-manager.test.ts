import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger, waitFor, type TaskInfo, type TaskStatus } from '../../common/index.js';
import { CheckpointStore } from '../checkpoint/index.js';
import { FakeMaster, freePort } from '../testing/fake-master.js';
import type { PostJson } from './status-batcher.js';
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
    await store.close();
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

  it('batches the heads of many tasks into few POSTs and keeps every task in order', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `t${i}`);
    for (const id of ids) await store.saveTask({ task_id: id, name: id, agent_id: 'agent-1', resources: { cpus: 0.1, mem: 32 } }, { container_id: `c-${id}`, sandbox_dir: '/x', kind: 'command' });
    master = await FakeMaster.start({ knownAgents: ['agent-1'] });
    manager = new StatusUpdateManager({ store, logger: silentLogger, retryMinMs: 20, retryMaxMs: 100 });
    manager.resume(`http://${master.address}`, 'agent-1');
    const states: Array<TaskStatus['state']> = ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED'];
    await Promise.all(ids.map(async (id) => {
      for (const [i, state] of states.entries()) await manager!.enqueue(update(id, state, `${id}-${i}`));
    }));
    await manager.idle();
    for (const id of ids) assert.deepEqual(master.statesOf(id), states, id);
    assert.ok(master.batchSizes.some((n) => n > 1), `some batch carried more than one update: ${master.batchSizes.join(',')}`);
    assert.ok(master.statusRequests < ids.length * states.length, `fewer POSTs (${master.statusRequests}) than updates`);
    // Nothing failed, so nothing was sent twice.
    assert.equal(master.received.length, ids.length * states.length);
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

  describe('held until the framework acknowledges', () => {
    it('holds a received update (the next one waits), re-sends it after the interval, and an ack releases the next', async () => {
      master = await FakeMaster.start({ knownAgents: ['agent-1'] });
      master.holdUpdates = true;
      manager = new StatusUpdateManager({ store, logger: silentLogger, retryMinMs: 40, retryMaxMs: 160 });
      manager.resume(`http://${master.address}`, 'agent-1');
      await manager.enqueue(update('a', 'TASK_STARTING', 'a1'));
      await manager.enqueue(update('a', 'TASK_RUNNING', 'a2'));
      await waitFor('a1 held', () => manager?.held('a') === 'a1');
      await waitFor('a1 re-sent', () => master!.timesReceived('a1') >= 3);
      assert.deepEqual(master.statesOf('a'), ['TASK_STARTING'], 'a2 waits behind the held a1');
      assert.equal(master.timesReceived('a2'), 0);

      // Not the head, an unknown task, an unknown uuid: all ignored.
      assert.equal(await manager.acknowledge('a', 'a2'), false);
      assert.equal(await manager.acknowledge('zzz', 'a1'), false);
      assert.equal(await manager.acknowledge('a', 'nope'), false);
      assert.deepEqual(manager.pending('a').map((u) => u.uuid), ['a1', 'a2']);

      assert.equal(await manager.acknowledge('a', 'a1'), true);
      assert.equal(await manager.acknowledge('a', 'a1'), false, 'a repeated ack is ignored');
      await waitFor('a2 held', () => manager?.held('a') === 'a2');
      const a1Sends = master.timesReceived('a1');
      await waitFor('a2 re-sent', () => master!.timesReceived('a2') >= 2);
      assert.equal(master.timesReceived('a1'), a1Sends, 'an acknowledged update is not sent again');
      assert.deepEqual(master.statesOf('a'), ['TASK_STARTING', 'TASK_RUNNING']);
      const checkpoint = (await store.loadTasks()).find((t) => t.task.task_id === 'a');
      assert.deepEqual([...(checkpoint?.acknowledged ?? [])], ['a1'], 'the ack is checkpointed, a2 is not acknowledged');
      assert.equal(manager.hasPending('a'), true);

      assert.equal(await manager.acknowledge('a', 'a2'), true);
      await manager.idle();
      assert.equal(manager.hasPending('a'), false);
      const after = (await store.loadTasks()).find((t) => t.task.task_id === 'a');
      assert.deepEqual([...(after?.acknowledged ?? [])], ['a1', 'a2']);
    });

    it('keeps other tasks going while one is held', async () => {
      master = await FakeMaster.start({ knownAgents: ['agent-1'] });
      manager = new StatusUpdateManager({ store, logger: silentLogger, retryMinMs: 5_000, retryMaxMs: 5_000 });
      manager.resume(`http://${master.address}`, 'agent-1');
      master.holdUpdates = true;
      await manager.enqueue(update('a', 'TASK_STARTING', 'a1'));
      await waitFor('a1 held', () => manager?.held('a') === 'a1');
      master.holdUpdates = false;
      await manager.enqueue(update('a', 'TASK_RUNNING', 'a2'));
      await manager.enqueue(update('b', 'TASK_STARTING', 'b1'));
      await manager.enqueue(update('b', 'TASK_RUNNING', 'b2'));
      await waitFor('b delivered', () => manager?.pending('b').length === 0);
      assert.deepEqual(master.statesOf('a'), ['TASK_STARTING']);
      assert.equal(await manager.acknowledge('a', 'a1'), true);
      await manager.idle();
      assert.deepEqual(master.statesOf('a'), ['TASK_STARTING', 'TASK_RUNNING']);
    });

    it('after an agent restart, re-sends the held update, and the acknowledgement still releases it', async () => {
      master = await FakeMaster.start({ knownAgents: ['agent-1'] });
      master.holdUpdates = true;
      manager = new StatusUpdateManager({ store, logger: silentLogger, retryMinMs: 5_000, retryMaxMs: 5_000 });
      manager.resume(`http://${master.address}`, 'agent-1');
      await manager.enqueue(update('a', 'TASK_STARTING', 'a1'));
      await manager.enqueue(update('a', 'TASK_FINISHED', 'a2'));
      await waitFor('a1 held', () => manager?.held('a') === 'a1');
      manager.stop();
      await store.close();

      // The restarted agent: a new store on the same directory, recovery requeues the unacknowledged.
      store = await CheckpointStore.create({ dir, logger: silentLogger });
      manager = new StatusUpdateManager({ store, logger: silentLogger, retryMinMs: 5_000, retryMaxMs: 5_000 });
      for (const t of await store.loadTasks()) manager.requeue(t.task.task_id, t.updates.filter((u) => !t.acknowledged.has(u.uuid)));
      manager.resume(`http://${master.address}`, 'agent-1');
      await waitFor('a1 sent again after the restart', () => master!.timesReceived('a1') === 2 && manager?.held('a') === 'a1');
      assert.equal(master.timesReceived('a2'), 0);
      assert.equal(await manager.acknowledge('a', 'a1'), true);
      await waitFor('a2 held', () => manager?.held('a') === 'a2');
      assert.equal(await manager.acknowledge('a', 'a2'), true);
      await manager.idle();
      assert.deepEqual(master.statesOf('a'), ['TASK_STARTING', 'TASK_FINISHED']);
      const after = (await store.loadTasks()).find((t) => t.task.task_id === 'a');
      assert.deepEqual([...(after?.acknowledged ?? [])].sort(), ['a1', 'a2']);
    });

    it("an acknowledgement that overtakes the master's answer drops the update all the same", async () => {
      const sent: string[] = [];
      let answer: (() => void) | undefined;
      const post = (async (_url: string, body: unknown) => {
        const u = (body as { update: TaskStatus }).update;
        sent.push(u.uuid);
        if (u.uuid === 'a1') await new Promise<void>((resolve) => (answer = resolve));
        return { received: u.uuid };
      }) as PostJson;
      manager = new StatusUpdateManager({ store, logger: silentLogger, retryMinMs: 5_000, retryMaxMs: 5_000, post });
      manager.resume('http://127.0.0.1:1', 'agent-1');
      await manager.enqueue(update('a', 'TASK_STARTING', 'a1'));
      await manager.enqueue(update('a', 'TASK_RUNNING', 'a2'));
      await waitFor('a1 in flight', () => answer !== undefined);
      assert.equal(await manager.acknowledge('a', 'a1'), true);
      answer?.();
      await waitFor('a2 held', () => manager?.held('a') === 'a2');
      assert.deepEqual(sent, ['a1', 'a2']);
    });

    it('holds while the link is down, and an acknowledgement then still applies', async () => {
      master = await FakeMaster.start({ knownAgents: ['agent-1'] });
      master.holdUpdates = true;
      manager = new StatusUpdateManager({ store, logger: silentLogger, retryMinMs: 5_000, retryMaxMs: 5_000 });
      manager.resume(`http://${master.address}`, 'agent-1');
      await manager.enqueue(update('a', 'TASK_FINISHED', 'a1'));
      await waitFor('a1 held', () => manager?.held('a') === 'a1');
      manager.pause();
      assert.equal(await manager.acknowledge('a', 'a1'), true);
      await manager.idle();
      assert.equal(manager.hasPending('a'), false);
    });
  });
});
