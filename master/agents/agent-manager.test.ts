import assert from 'node:assert/strict';
import { silentLogger, type AgentInfo, type TaskStatus, type TaskView } from '../../common/index.js';
import { TaskStore } from '../tasks/index.js';
import { ManualClock } from '../../common/testing/index.js';
import { AgentManager } from './index.js';

const info: AgentInfo = {
  hostname: 'h',
  ip: '127.0.0.1',
  port: 5051,
  resources: { cpus: 2, mem: 1024 },
  executors: ['command'],
  isolation: 'posix',
};
let n = 0;
const ids = { uuid: () => `id-${++n}` };

function setup(timeoutMs = 1000, reregisterTimeoutMs?: number) {
  const clock = new ManualClock();
  const tasks = new TaskStore({ logger: silentLogger });
  const agents = new AgentManager({
    tasks,
    clock,
    ids,
    logger: silentLogger,
    agentTimeoutMs: timeoutMs,
    ...(reregisterTimeoutMs === undefined ? {} : { agentReregisterTimeoutMs: reregisterTimeoutMs }),
  });
  return { clock, tasks, agents };
}

function runningOn(tasks: TaskStore, taskId: string, agentId: string): TaskView {
  const view = tasks.add({
    task_id: taskId,
    name: taskId,
    framework_id: 'tessera-tasks',
    agent_id: agentId,
    state: 'TASK_STAGING',
    resources: { cpus: 1, mem: 64 },
    statuses: [],
    submitted_at: 1,
  });
  tasks.apply(status(taskId, 'TASK_RUNNING'));
  return view;
}

function status(taskId: string, state: TaskStatus['state']): TaskStatus {
  return { task_id: taskId, state, source: 'SOURCE_EXECUTOR', timestamp: 1, uuid: `s-${++n}` };
}

describe('AgentManager', () => {
  it('registers with a new id and answers heartbeats; unknown ids are AGENT_UNKNOWN', () => {
    const { agents } = setup();
    const { agent, isNew, killTaskIds } = agents.register({ info, tasks: [] });
    assert.equal(isNew, true);
    assert.deepEqual(killTaskIds, []);
    agents.heartbeat(agent.id);
    assert.throws(() => agents.heartbeat('nobody'), { code: 'AGENT_UNKNOWN' });
  });

  it('marks a silent agent unreachable and its tasks LOST; the agent must then re-register', () => {
    const { clock, tasks, agents } = setup(1000);
    const { agent } = agents.register({ info, tasks: [] });
    runningOn(tasks, 't1', agent.id);
    clock.advance(900);
    agents.heartbeat(agent.id);
    clock.advance(900);
    assert.deepEqual(agents.sweep(), { unreachable: [], removed: [] }, 'a heartbeat 900 ms ago is recent enough');
    clock.advance(200);
    assert.deepEqual(agents.sweep().unreachable.map((a) => a.id), [agent.id]);
    const lost = tasks.get('t1');
    assert.equal(lost?.state, 'TASK_LOST');
    assert.equal(lost?.reason, 'REASON_AGENT_DISCONNECTED');
    assert.equal(lost?.statuses.at(-1)?.source, 'SOURCE_MASTER');
    assert.match(lost?.message ?? '', /unreachable/);
    assert.throws(() => agents.heartbeat(agent.id), { code: 'AGENT_UNKNOWN' });
  });

  it('on re-registration: kills what it gave up on, adopts what it did not know, loses what is missing', () => {
    const { clock, tasks, agents } = setup(1000);
    const { agent } = agents.register({ info, tasks: [] });
    runningOn(tasks, 'given-up', agent.id);
    clock.advance(1500);
    agents.sweep();
    runningOn(tasks, 'missing', agent.id); // as if placed after a restart; the agent will not report it
    const report = (taskId: string) => ({
      task: { task_id: taskId, name: taskId, agent_id: agent.id, resources: { cpus: 0.5, mem: 32 } },
      status: { ...status(taskId, 'TASK_RUNNING'), agent_id: agent.id },
    });
    const result = agents.register({ agent_id: agent.id, info, tasks: [report('given-up'), report('stranger')] });
    assert.equal(result.isNew, false);
    assert.equal(result.agent.status, 'active');
    assert.deepEqual(result.killTaskIds, ['given-up']);
    assert.equal(tasks.get('stranger')?.state, 'TASK_RUNNING');
    assert.equal(tasks.get('stranger')?.agent?.id, agent.id);
    assert.equal(tasks.get('missing')?.state, 'TASK_LOST');
    assert.equal(tasks.get('missing')?.reason, 'REASON_AGENT_RESTARTED');
    assert.equal(tasks.invalidUpdates, 0);
  });

  it('keeps recovered agents out of use until they re-register, and keeps their admission time', () => {
    const { clock, agents } = setup(1000, 10_000);
    agents.recover([{ id: 'old', info, registered_at: 1 }]);
    assert.equal(agents.active().length, 0);
    assert.deepEqual(agents.recovering().map((a) => a.id), ['old']);
    assert.throws(() => agents.heartbeat('old'), { code: 'AGENT_UNKNOWN' });
    clock.advance(1001);
    assert.deepEqual(agents.sweep(), { unreachable: [], removed: [] }, 'the agent timeout does not apply to recovering agents');
    const result = agents.register({ agent_id: 'old', info, tasks: [] });
    assert.equal(result.isNew, false);
    assert.equal(result.infoChanged, false);
    assert.equal(agents.get('old')?.status, 'active');
    assert.equal(agents.get('old')?.registered_at, 1, 'admission time is kept');
    assert.equal(agents.register({ agent_id: 'old', info: { ...info, port: info.port + 1 }, tasks: [] }).infoChanged, true);
  });

  it('removes recovered agents that do not re-register within the re-registration timeout', () => {
    const { clock, agents } = setup(1000, 5000);
    agents.recover([
      { id: 'returns', info, registered_at: 1 },
      { id: 'never', info: { ...info, port: info.port + 1 }, registered_at: 1 },
    ]);
    clock.advance(4000);
    agents.register({ agent_id: 'returns', info, tasks: [] });
    assert.deepEqual(agents.sweep(), { unreachable: [], removed: [] });
    clock.advance(1001);
    agents.heartbeat('returns');
    const swept = agents.sweep();
    assert.deepEqual(swept.removed.map((a) => a.id), ['never']);
    assert.equal(agents.get('never'), undefined, 'forgotten');
    assert.equal(agents.get('returns')?.status, 'active');
  });

  it('forgets an agent whose address now registers under a new id', () => {
    const { tasks, agents } = setup();
    const first = agents.register({ info, tasks: [] }).agent;
    runningOn(tasks, 't', first.id);
    const second = agents.register({ info, tasks: [] }).agent;
    assert.notEqual(second.id, first.id);
    assert.equal(agents.get(first.id), undefined);
    assert.equal(tasks.get('t')?.state, 'TASK_LOST');
  });
});
