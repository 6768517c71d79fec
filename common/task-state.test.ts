import assert from 'node:assert/strict';
import {
  IllegalTransitionError,
  TASK_STATES,
  TASK_TRANSITIONS,
  assertTransition,
  canTransition,
  isTerminal,
} from './task-state.js';

describe('task states', () => {
  it('gives terminal states no successors and every live state a way to end', () => {
    for (const state of TASK_STATES) {
      if (isTerminal(state)) assert.deepEqual(TASK_TRANSITIONS[state], [], state);
      else assert.ok(TASK_TRANSITIONS[state].some(isTerminal), `${state} can never end`);
    }
  });

  it('follows the Mesos life cycle', () => {
    assert.ok(canTransition('TASK_STAGING', 'TASK_STARTING'));
    assert.ok(canTransition('TASK_STARTING', 'TASK_RUNNING'));
    assert.ok(canTransition('TASK_RUNNING', 'TASK_KILLING'));
    assert.ok(canTransition('TASK_KILLING', 'TASK_KILLED'));
    assert.ok(canTransition('TASK_RUNNING', 'TASK_FAILED'));
  });

  it('refuses going back or leaving a terminal state', () => {
    assert.equal(canTransition('TASK_RUNNING', 'TASK_STARTING'), false);
    assert.equal(canTransition('TASK_FINISHED', 'TASK_RUNNING'), false);
    assert.equal(canTransition('TASK_KILLING', 'TASK_RUNNING'), false);
    assert.throws(() => assertTransition('t1', 'TASK_LOST', 'TASK_RUNNING'), IllegalTransitionError);
  });
});
