import assert from 'node:assert/strict';
import { ConflictError, ValidationError, silentLogger, type MesosOffer, type MesosTaskInfo, type MesosTaskStatus } from '../../common/index.js';
import { JobsEngine, type FinishedRun } from './jobs-engine.js';
import { JobsScheduler, type SchedulerPort } from './jobs-scheduler.js';
import type { JobStatus } from './job-status.js';
import { ManualClock, MemoryStore } from './testing.js';

const T0 = Date.parse('2024-01-01T00:00:00Z');

async function engineAt(store: MemoryStore, clock: ManualClock): Promise<JobsEngine> {
  return JobsEngine.load({ store, clock, logger: silentLogger, retry: { baseDelayMs: 100 } });
}

describe('jobs engine', () => {
  it('queues a scheduled run, persisted before launch, and counts its success', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0 - 500);
    const engine = await engineAt(store, clock);
    await engine.upsert({ name: 'a', command: 'true', schedule: 'R/2024-01-01T00:00:00Z/PT10S', epsilon: 'PT5S' }, 'scheduled');
    await engine.tick();
    assert.equal(engine.launchable().length, 0);
    clock.advance(600);
    await engine.tick();
    const [run] = engine.launchable();
    assert.equal(run?.run.scheduledFor, T0);
    const stored = await store.get<JobStatus>('status/a');
    assert.equal(stored?.active?.phase, 'queued');
    assert.equal(stored?.nextDueAt, T0 + 10_000);

    assert.ok(await engine.markLaunching('a', run!.run.runId, 'task-1', 'agent-1'));
    assert.equal((await store.get<JobStatus>('status/a'))?.active?.taskId, 'task-1');
    const finished: FinishedRun[] = [];
    engine.onFinished((f) => finished.push(f));
    await engine.onTaskStatus({ taskId: 'task-1', state: 'TASK_RUNNING' });
    clock.advance(1000);
    await engine.onTaskStatus({ taskId: 'task-1', state: 'TASK_FINISHED' });
    assert.equal(engine.get('a').status.successCount, 1);
    assert.equal(finished[0]?.record.outcome, 'success');
    assert.equal(await engine.onTaskStatus({ taskId: 'other', state: 'TASK_RUNNING' }), false);
  });

  it('after a failover, a recorded task is not launched again and a queued run is not lost', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    const first = await engineAt(store, clock);
    await first.upsert({ name: 'a', command: 'true', schedule: 'R/2024-01-01T00:00:00Z/PT10S' }, 'scheduled');
    await first.upsert({ name: 'b', command: 'true', schedule: 'R/2024-01-01T00:00:00Z/PT10S' }, 'scheduled');
    await first.tick();
    const runA = first.launchable().find((r) => r.job.name === 'a')!;
    await first.markLaunching('a', runA.run.runId, 'task-a', 'agent-1');
    // The leader dies here; a new one loads the store.
    clock.advance(2000);
    const second = await engineAt(store, clock);
    await second.tick();
    assert.deepEqual(second.launchable().map((r) => r.job.name), ['b'], 'b still waits, a is not launched twice');
    assert.deepEqual(second.activeTasks(), [{ taskId: 'task-a', agentId: 'agent-1' }]);
    // Reconciliation: the master never got the ACCEPT → TASK_LOST → retried as attempt 2.
    await second.onTaskStatus({ taskId: 'task-a', state: 'TASK_LOST' });
    assert.equal(second.get('a').status.active?.attempt, 2);
    assert.equal(second.get('a').status.nextDueAt, T0 + 10_000);
  });

  it('failover: a run due while the adopted run is still marked active waits for reconciliation instead of being skipped', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0 - 100);
    const first = await engineAt(store, clock);
    await first.upsert({ name: 't', command: 'sleep 1', schedule: 'R/2024-01-01T00:00:00Z/PT2S', epsilon: 'PT10S' }, 'scheduled');
    clock.advance(100);
    await first.tick();
    const run = first.launchable()[0]!;
    await first.markLaunching('t', run.run.runId, 'task-1', 'agent-1');
    await first.onTaskStatus({ taskId: 'task-1', state: 'TASK_RUNNING' });
    // The leader dies; the task finishes at T0+1.2 s but only the master hears of it.
    clock.advance(1500);
    const second = await engineAt(store, clock);
    clock.advance(600); // T0+2.1 s: the next run is due while task-1 still looks active
    await second.tick();
    assert.deepEqual(second.get('t').status.history.filter((r) => r.outcome === 'skipped'), [], 'not skipped while within epsilon');
    assert.equal(second.launchable().length, 0, 'waits for the previous run');
    // Reconciliation answers 630 ms after the takeover.
    clock.advance(630);
    await second.onTaskStatus({ taskId: 'task-1', state: 'TASK_FINISHED', reason: 'REASON_RECONCILIATION' });
    await second.tick();
    const [next] = second.launchable();
    assert.equal(next?.run.scheduledFor, T0 + 2000);
    assert.equal(next?.run.runId, 't:2');
    assert.equal(second.get('t').status.successCount, 1);
  });

  it('failover: a task lost before launch is launched again at once and the runs behind it still run within epsilon', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0 - 100);
    const first = await engineAt(store, clock);
    await first.upsert({ name: 't', command: 'sleep 1', schedule: 'R/2024-01-01T00:00:00Z/PT2S', epsilon: 'PT10S', retries: 0 }, 'scheduled');
    clock.advance(100);
    await first.tick();
    const run = first.launchable()[0]!;
    // The task id is stored, then the leader dies before its ACCEPT reaches the master.
    await first.markLaunching('t', run.run.runId, 'task-1', 'agent-1');
    clock.advance(2500);
    const second = await engineAt(store, clock);
    await second.tick();
    assert.equal(second.launchable().length, 0, 'task-1 is being reconciled, not launched again yet');
    await second.onTaskStatus({ taskId: 'task-1', state: 'TASK_LOST', reason: 'REASON_RECONCILIATION', message: 'the task is unknown to the master' });
    const again = second.get('t').status.active;
    assert.equal(again?.runId, 't:1', 'the same run');
    assert.equal(again?.attempt, 1, 'not counted as a retry (retries: 0 would fail the run)');
    assert.equal(second.launchable()[0]?.run.runId, 't:1', 'launchable at once, no backoff');
    // Relaunched; it runs slowly past two more occurrences.
    const finished: string[] = [];
    second.onFinished((f) => finished.push(`${f.record.runId}@${f.record.scheduledFor - T0}`));
    const runFor = async (taskId: string, ms: number): Promise<void> => {
      const r = second.launchable()[0]!;
      assert.ok(await second.markLaunching('t', r.run.runId, taskId, 'agent-1'));
      await second.onTaskStatus({ taskId, state: 'TASK_RUNNING' });
      for (let t = 0; t < ms; t += 250) {
        clock.advance(250);
        await second.tick();
      }
      await second.onTaskStatus({ taskId, state: 'TASK_FINISHED' });
      await second.tick();
    };
    await runFor('task-1b', 3000); // now T0+5.5 s: T0+2 s and T0+4 s wait
    assert.deepEqual(second.get('t').status.active?.scheduledFor, T0 + 2000);
    await runFor('task-2', 1000);
    await runFor('task-3', 1000);
    assert.deepEqual(finished, ['t:1@0', 't:2@2000', 't:3@4000']);
    assert.deepEqual(second.get('t').status.history.filter((r) => r.outcome === 'skipped'), [], 'nothing skipped');
    assert.equal(second.get('t').status.errorCount, 0);
  });

  it('runs a dependent job once both parents succeeded, and rejects bad graphs', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    const engine = await engineAt(store, clock);
    await engine.upsert({ name: 'p1', command: 'true', schedule: 'R/2030-01-01T00:00:00Z/PT1H' }, 'scheduled');
    await engine.upsert({ name: 'p2', command: 'true', schedule: 'R/2030-01-01T00:00:00Z/PT1H' }, 'scheduled');
    await engine.upsert({ name: 'child', command: 'true', parents: ['p1', 'p2'] }, 'dependent');
    await assert.rejects(engine.upsert({ name: 'x', command: 'true', parents: ['nope'] }, 'dependent'), (e: unknown) => e instanceof ValidationError && e.field === 'parents[0]');
    await assert.rejects(engine.remove('p1'), ConflictError);
    const succeed = async (name: string, taskId: string): Promise<void> => {
      clock.advance(10);
      await engine.runNow(name);
      const run = engine.launchable().find((r) => r.job.name === name)!;
      await engine.markLaunching(name, run.run.runId, taskId, 'ag');
      await engine.onTaskStatus({ taskId, state: 'TASK_FINISHED' });
    };
    await succeed('p1', 't1');
    await engine.tick();
    assert.equal(engine.get('child').status.active, undefined);
    await succeed('p2', 't2');
    await engine.tick();
    assert.equal(engine.get('child').status.active?.trigger, 'dependency');
    await assert.rejects(engine.runNow('child'), ConflictError);
  });
});

class FakeClient implements SchedulerPort {
  connected = true;
  calls: string[] = [];
  accepted: MesosTaskInfo[] = [];
  handlers: { offers?: (o: MesosOffer[]) => void; update?: (s: MesosTaskStatus) => void; subscribed?: (id: string) => void } = {};
  constructor(private readonly onAccept: () => Promise<void> = async () => undefined) {}
  on(event: 'subscribed' | 'offers' | 'update', handler: never): void {
    (this.handlers as Record<string, unknown>)[event] = handler;
  }
  async accept(_ids: string[], tasks: MesosTaskInfo[]): Promise<void> {
    await this.onAccept();
    this.calls.push('accept');
    this.accepted.push(...tasks);
  }
  async decline(): Promise<void> {
    this.calls.push('decline');
  }
  async kill(taskId: string): Promise<void> {
    this.calls.push(`kill ${taskId}`);
  }
  async reconcile(): Promise<void> {
    this.calls.push('reconcile');
  }
  async revive(): Promise<void> {
    this.calls.push('revive');
  }
  async suppress(): Promise<void> {
    this.calls.push('suppress');
  }
}

const offer = (id: string, cpus: number, mem: number): MesosOffer => ({
  id: { value: id },
  framework_id: { value: 'fw' },
  agent_id: { value: 'agent-1' },
  hostname: 'h',
  resources: [
    { name: 'cpus', type: 'SCALAR', scalar: { value: cpus } },
    { name: 'mem', type: 'SCALAR', scalar: { value: mem } },
  ],
});

describe('jobs scheduler (offers)', () => {
  it('persists the task id before accepting, declines offers that do not fit, suppresses when idle', async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(T0);
    const engine = await engineAt(store, clock);
    const client = new FakeClient(async () => {
      assert.equal((await store.get<JobStatus>('status/a'))?.active?.phase, 'launching', 'stored before ACCEPT');
    });
    const scheduler = new JobsScheduler({ engine, client, logger: silentLogger, clock });
    scheduler.start();
    await engine.upsert({ name: 'a', command: 'echo hi', schedule: 'R/2030-01-01T00:00:00Z/PT1H', cpus: 0.5, mem: 64 }, 'scheduled');
    clock.advance(250);
    await engine.idle();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(client.calls, ['suppress']);
    await engine.runNow('a');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(client.calls, ['suppress', 'revive']);
    client.handlers.offers?.([offer('small', 0.1, 32), offer('big', 1, 1024)]);
    await engine.idle();
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.deepEqual(client.calls.slice(2), ['decline', 'accept', 'suppress']);
    assert.equal(client.accepted[0]?.command?.value, 'echo hi');
    assert.equal(client.accepted[0]?.agent_id.value, 'agent-1');
    // An update for a task no job owns is killed.
    client.handlers.update?.({ task_id: { value: 'stray' }, state: 'TASK_RUNNING', timestamp: 0 });
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    assert.ok(client.calls.includes('kill stray'));
    scheduler.stop();
  });
});
