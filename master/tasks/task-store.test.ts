import assert from 'node:assert/strict';
import { silentLogger, type TaskState, type TaskStatus, type TaskView } from '../../common/index.js';
import { TaskStore } from './index.js';

function view(id: string): TaskView {
  return {
    task_id: id,
    name: id,
    framework_id: 'tessera-tasks',
    agent_id: 'agent-1',
    state: 'TASK_STAGING',
    resources: { cpus: 1, mem: 64 },
    statuses: [],
    submitted_at: 1,
  };
}
let n = 0;
function status(id: string, state: TaskState, extra: Partial<TaskStatus> = {}): TaskStatus {
  return { task_id: id, state, source: 'SOURCE_EXECUTOR', timestamp: 2, uuid: `u${++n}`, ...extra };
}

describe('TaskStore', () => {
  it('applies legal transitions and moves terminal tasks to the completed list', () => {
    const store = new TaskStore({ logger: silentLogger });
    store.add(view('t'));
    for (const state of ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED'] as const) {
      const outcome = store.apply(status('t', state));
      assert.equal(outcome.kind, 'applied');
    }
    assert.equal(store.get('t')?.state, 'TASK_FINISHED');
    assert.deepEqual(store.get('t')?.statuses.map((s) => s.state), ['TASK_STARTING', 'TASK_RUNNING', 'TASK_FINISHED']);
    assert.equal(store.active().length, 0);
    assert.equal(store.completed().length, 1);
    assert.equal(store.countByState().TASK_FINISHED, 1);
    assert.equal(store.invalidUpdates, 0);
  });

  it('acknowledges a duplicate uuid without applying it twice', () => {
    const store = new TaskStore({ logger: silentLogger });
    store.add(view('t'));
    const update = status('t', 'TASK_RUNNING');
    assert.equal(store.apply(update).kind, 'applied');
    assert.equal(store.apply({ ...update }).kind, 'duplicate');
    assert.equal(store.get('t')?.statuses.length, 1);
  });

  it('counts an illegal transition and leaves the task as it was', () => {
    const store = new TaskStore({ logger: silentLogger });
    store.add(view('t'));
    store.apply(status('t', 'TASK_RUNNING'));
    store.apply(status('t', 'TASK_FAILED'));
    const outcome = store.apply(status('t', 'TASK_RUNNING'));
    assert.equal(outcome.kind, 'illegal');
    assert.equal(store.invalidUpdates, 1);
    assert.equal(store.get('t')?.state, 'TASK_FAILED');
    // KILLING -> RUNNING is not in the table either.
    store.add(view('k'));
    store.apply(status('k', 'TASK_KILLING'));
    assert.equal(store.apply(status('k', 'TASK_STARTING')).kind, 'illegal');
    assert.equal(store.invalidUpdates, 2);
  });

  it('treats an agent update after the master ended a task as superseded, not invalid', () => {
    const store = new TaskStore({ logger: silentLogger });
    store.add(view('t'));
    store.apply(status('t', 'TASK_RUNNING'));
    store.apply(status('t', 'TASK_LOST', { source: 'SOURCE_MASTER', reason: 'REASON_AGENT_DISCONNECTED' }));
    assert.equal(store.get('t')?.reason, 'REASON_AGENT_DISCONNECTED');
    assert.equal(store.apply(status('t', 'TASK_KILLED')).kind, 'superseded');
    assert.equal(store.invalidUpdates, 0);
  });

  it('treats an older update that no longer fits (STARTING after RUNNING) as superseded, not invalid', () => {
    const store = new TaskStore({ logger: silentLogger });
    store.add(view('t'));
    store.apply(status('t', 'TASK_RUNNING', { timestamp: 5 }));
    assert.equal(store.apply(status('t', 'TASK_STARTING', { timestamp: 4 })).kind, 'superseded');
    assert.equal(store.get('t')?.state, 'TASK_RUNNING');
    assert.equal(store.invalidUpdates, 0);
    assert.equal(store.apply(status('t', 'TASK_STARTING', { timestamp: 6 })).kind, 'illegal', 'a newer one that does not fit is a bug');
  });

  it('reports unknown tasks and keeps a bounded completed list', () => {
    const store = new TaskStore({ logger: silentLogger, completedLimit: 3 });
    assert.equal(store.apply(status('nope', 'TASK_RUNNING')).kind, 'unknown');
    for (let i = 0; i < 5; i++) {
      store.add(view(`t${i}`));
      store.apply(status(`t${i}`, 'TASK_FINISHED'));
    }
    assert.deepEqual(store.completed().map((v) => v.task_id), ['t2', 't3', 't4']);
    assert.equal(store.countByState().TASK_FINISHED, 5, 'counters are not bounded');
    assert.deepEqual(store.list('TASK_FINISHED').length, 3);
  });

  it('refuses a second task with the same id', () => {
    const store = new TaskStore({ logger: silentLogger });
    store.add(view('t'));
    assert.throws(() => store.add(view('t')), { code: 'CONFLICT' });
  });
});
