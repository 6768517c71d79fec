import assert from 'node:assert/strict';
import type { TaskInfo } from '../../common/index.js';
import { finalStatusFor } from './final-status.js';

const task: TaskInfo = { task_id: 't', name: 't', agent_id: 'a', resources: { cpus: 1, mem: 64 } };

describe('final status mapping', () => {
  it('exit 0 → TASK_FINISHED', () => {
    const s = finalStatusFor(task, { exitCode: 0, signal: null, oomKilled: false }, false);
    assert.equal(s.state, 'TASK_FINISHED');
    assert.equal(s.exitCode, 0);
  });
  it('OOM (even with exit code 0) → TASK_FAILED REASON_CONTAINER_LIMITATION_MEMORY', () => {
    const s = finalStatusFor(task, { exitCode: 0, signal: null, oomKilled: true }, false);
    assert.equal(s.state, 'TASK_FAILED');
    assert.equal(s.reason, 'REASON_CONTAINER_LIMITATION_MEMORY');
    assert.equal(s.message, 'Memory limit exceeded: 64 MB');
  });
  it('a non-zero exit or a signal → TASK_FAILED REASON_COMMAND_EXECUTOR_FAILED with the code', () => {
    const s = finalStatusFor(task, { exitCode: 3, signal: null, oomKilled: false }, false);
    assert.equal(s.reason, 'REASON_COMMAND_EXECUTOR_FAILED');
    assert.match(s.message, /status 3/);
    assert.equal(s.exitCode, 3);
    const k = finalStatusFor(task, { exitCode: null, signal: 'SIGKILL', oomKilled: false }, false);
    assert.match(k.message, /signal SIGKILL/);
    assert.equal(k.exitCode, 137);
  });
  it('a requested kill → TASK_KILLED', () => {
    assert.equal(finalStatusFor(task, { exitCode: null, signal: 'SIGTERM', oomKilled: false }, true).state, 'TASK_KILLED');
  });
});
