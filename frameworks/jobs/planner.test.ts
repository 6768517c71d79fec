import assert from 'node:assert/strict';
import { newStatus } from './job-status.js';
import { dependencyReady, expireQueued, finishAttempt, isLaunchable, neverLaunched, stepSchedule, unlaunchAttempt } from './planner.js';
import { parseSchedule } from './schedule.js';

const T0 = Date.parse('2024-01-01T00:00:00Z');
const every10s = parseSchedule('R/2024-01-01T00:00:00Z/PT10S', undefined);

describe('planner', () => {
  it('queues an occurrence that is due within epsilon and moves to the next', () => {
    const status = { ...newStatus(T0 - 1000), nextDueAt: T0 };
    const step = stepSchedule('a', status, every10s, 5000, T0 + 2000, false);
    assert.equal(step.due, T0);
    assert.equal(step.status.active?.phase, 'queued');
    assert.equal(step.status.active?.launchBy, T0 + 5000);
    assert.equal(step.status.nextDueAt, T0 + 10_000);
    assert.deepEqual(step.skipped, []);
  });

  it('does nothing before the due time', () => {
    const status = { ...newStatus(T0 - 1000), nextDueAt: T0 };
    const step = stepSchedule('a', status, every10s, 5000, T0 - 1, false);
    assert.equal(step.due, undefined);
    assert.equal(step.status.nextDueAt, T0);
  });

  it('skips and records occurrences missed beyond epsilon, runs the one within it', () => {
    const status = { ...newStatus(T0 - 1000), nextDueAt: T0 };
    const step = stepSchedule('a', status, every10s, 5000, T0 + 32_000, false);
    assert.equal(step.due, T0 + 30_000);
    assert.deepEqual(step.skipped.map((s) => s.scheduledFor), [T0, T0 + 10_000, T0 + 20_000]);
    assert.equal(step.status.history.filter((r) => r.outcome === 'skipped').length, 3);
    assert.equal(step.status.nextDueAt, T0 + 40_000);
  });

  it('folds a very long outage into one skip record', () => {
    const status = { ...newStatus(T0 - 1000), nextDueAt: T0 };
    const step = stepSchedule('a', status, every10s, 1000, T0 + 86_400_000, false);
    assert.equal(step.due, T0 + 86_400_000);
    assert.ok(step.skipped.length <= 1_001);
    assert.equal(step.status.nextDueAt, T0 + 86_410_000);
  });

  it('lets an occurrence due while the previous run is active wait, and runs it once that run ends within epsilon', () => {
    const busy = stepSchedule('a', { ...newStatus(T0 - 1000), nextDueAt: T0 }, every10s, 5000, T0, false).status;
    const running = { ...busy, active: { ...busy.active!, phase: 'running' as const, taskId: 't1' } };
    const waiting = stepSchedule('a', running, every10s, 5000, T0 + 10_000, false);
    assert.equal(waiting.due, undefined);
    assert.deepEqual(waiting.skipped, [], 'not skipped while still within epsilon');
    assert.deepEqual(waiting.status.waiting, [T0 + 10_000]);
    assert.equal(waiting.status.nextDueAt, T0 + 20_000);
    // Still active a little later: keeps waiting.
    const still = stepSchedule('a', waiting.status, every10s, 5000, T0 + 14_000, false);
    assert.deepEqual(still.skipped, []);
    assert.deepEqual(still.status.waiting, [T0 + 10_000]);
    // The previous run ends 4.5 s after the next one's time: that one starts, launchable until its own epsilon.
    const done = finishAttempt(still.status, 0, 'TASK_FINISHED', undefined, T0 + 14_500);
    assert.equal(done?.kind, 'success');
    const next = stepSchedule('a', done!.status, every10s, 5000, T0 + 14_600, false);
    assert.equal(next.due, T0 + 10_000);
    assert.equal(next.status.active?.scheduledFor, T0 + 10_000);
    assert.equal(next.status.active?.launchBy, T0 + 15_000);
    assert.equal(next.status.waiting, undefined);
    assert.deepEqual(next.skipped, []);
  });

  it('skips a waiting occurrence only once it is epsilon past its time with the previous run still active', () => {
    const busy = stepSchedule('a', { ...newStatus(T0 - 1000), nextDueAt: T0 }, every10s, 5000, T0, false).status;
    const waiting = stepSchedule('a', busy, every10s, 5000, T0 + 10_000, false).status;
    assert.equal(stepSchedule('a', waiting, every10s, 5000, T0 + 15_000, false).skipped.length, 0);
    const step = stepSchedule('a', waiting, every10s, 5000, T0 + 15_001, false);
    assert.equal(step.due, undefined);
    assert.equal(step.skipped[0]?.scheduledFor, T0 + 10_000);
    assert.match(step.skipped[0]?.message ?? '', /not started within epsilon: previous run a:1 still in progress/);
    assert.equal(step.status.waiting, undefined);
    assert.equal(step.status.active?.runId, 'a:1');
  });

  it('runs every occurrence within epsilon in turn, none superseded', () => {
    // A new leader takes over 12 s late, with epsilon 15 s: T0 and T0+10 s both still count.
    const step = stepSchedule('a', { ...newStatus(T0 - 1000), nextDueAt: T0 }, every10s, 15_000, T0 + 12_000, false);
    assert.equal(step.due, T0);
    assert.deepEqual(step.skipped, []);
    assert.deepEqual(step.status.waiting, [T0 + 10_000]);
    const done = finishAttempt({ ...step.status, active: { ...step.status.active!, phase: 'running', taskId: 't' } }, 0, 'TASK_FINISHED', undefined, T0 + 13_000);
    const second = stepSchedule('a', done!.status, every10s, 15_000, T0 + 13_100, false);
    assert.equal(second.due, T0 + 10_000);
    assert.equal(second.status.waiting, undefined);
  });

  it('puts an attempt whose task never reached an agent back in the queue at once, not counted as a retry', () => {
    const queued = stepSchedule('a', { ...newStatus(T0 - 1000), nextDueAt: T0 }, every10s, 5000, T0, false).status;
    const launching = { ...queued, active: { ...queued.active!, phase: 'launching' as const, taskId: 't1', agentId: 'ag', startedAt: T0, attemptStartedAt: T0 } };
    assert.equal(neverLaunched('launching', 'TASK_LOST', 'REASON_RECONCILIATION'), true);
    assert.equal(neverLaunched('running', 'TASK_LOST', 'REASON_RECONCILIATION'), false);
    assert.equal(neverLaunched('launching', 'TASK_FAILED', undefined), false);
    const back = unlaunchAttempt(launching, T0 + 700);
    assert.equal(back.active?.phase, 'queued');
    assert.equal(back.active?.attempt, 1);
    assert.equal(back.active?.taskId, undefined);
    assert.equal(isLaunchable(back, T0 + 700), true);
  });

  it('runs nothing for a disabled job but keeps time moving', () => {
    const step = stepSchedule('a', { ...newStatus(T0 - 1000), nextDueAt: T0 }, every10s, 5000, T0 + 1000, true);
    assert.equal(step.due, undefined);
    assert.equal(step.status.active, undefined);
    assert.equal(step.status.nextDueAt, T0 + 10_000);
  });

  it('expires a queued run not launched within epsilon', () => {
    const queued = stepSchedule('a', { ...newStatus(T0 - 1000), nextDueAt: T0 }, every10s, 5000, T0, false).status;
    assert.equal(expireQueued(queued, T0 + 5000), queued);
    const expired = expireQueued(queued, T0 + 5001);
    assert.equal(expired.active, undefined);
    assert.equal(expired.history.at(-1)?.outcome, 'skipped');
  });

  it('makes a dependent job ready only after every parent succeeded since its last trigger', () => {
    const child = { ...newStatus(T0), lastTriggeredAt: T0 };
    const parent = (lastSuccess?: number) => ({ ...newStatus(T0 - 5000), ...(lastSuccess === undefined ? {} : { lastSuccess }) });
    assert.equal(dependencyReady(child, [parent(T0 + 1), parent()]), false);
    assert.equal(dependencyReady(child, [parent(T0 + 1), parent(T0 - 1)]), false);
    assert.equal(dependencyReady(child, [parent(T0 + 1), parent(T0 + 2)]), true);
    assert.equal(dependencyReady(child, [parent(T0 + 1), undefined]), false);
  });

  it('retries a failed attempt up to `retries` times, then fails the run', () => {
    let status = stepSchedule('a', { ...newStatus(T0 - 1000), nextDueAt: T0 }, every10s, 5000, T0, false).status;
    for (let attempt = 1; attempt <= 2; attempt++) {
      status = { ...status, active: { ...status.active!, phase: 'running', taskId: `t${attempt}` } };
      const r = finishAttempt(status, 2, 'TASK_FAILED', 'exit 1', T0 + attempt, { baseDelayMs: 100 });
      assert.equal(r?.kind, 'retry');
      status = r!.status;
      assert.equal(status.active?.attempt, attempt + 1);
      assert.equal(isLaunchable(status, T0 + attempt), false, 'backs off first');
      assert.equal(isLaunchable(status, T0 + attempt + 100 * 2 ** (attempt - 1)), true);
    }
    status = { ...status, active: { ...status.active!, phase: 'running', taskId: 't3' } };
    const final = finishAttempt(status, 2, 'TASK_FAILED', 'exit 1', T0 + 10, {});
    assert.equal(final?.kind, 'failure');
    assert.equal(final?.status.errorCount, 1);
    assert.equal(final?.status.lastError, T0 + 10);
    assert.equal(final?.status.active, undefined);
    if (final?.kind === 'failure') assert.equal(final.record.attempts, 3);
  });

  it('counts a finished task as a success', () => {
    let status = stepSchedule('a', { ...newStatus(T0 - 1000), nextDueAt: T0 }, every10s, 5000, T0, false).status;
    status = { ...status, active: { ...status.active!, phase: 'running', taskId: 't', startedAt: T0 } };
    const r = finishAttempt(status, 2, 'TASK_FINISHED', undefined, T0 + 1500);
    assert.equal(r?.kind, 'success');
    assert.equal(r?.status.successCount, 1);
    assert.equal(r?.status.lastSuccess, T0 + 1500);
  });
});
