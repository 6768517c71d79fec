import assert from 'node:assert/strict';
import { ManualClock } from '../../common/testing/index.js';
import { TaskWatch } from './task-watch.js';

describe('TaskWatch', () => {
  it('wakes the waiters of a task when it changes, and only them', async () => {
    const clock = new ManualClock();
    const watch = new TaskWatch(clock);
    const woken: string[] = [];
    const a = watch.next('a', 10_000).then(() => woken.push('a'));
    void watch.next('b', 10_000).then(() => woken.push('b'));
    assert.equal(watch.waiting, 2);
    watch.changed('a');
    await a;
    assert.deepEqual(woken, ['a']);
    assert.equal(watch.waiting, 1);
  });

  it('answers after the timeout, and all at once when released', async () => {
    const clock = new ManualClock();
    const watch = new TaskWatch(clock);
    let timedOut = false;
    const t = watch.next('a', 500).then(() => (timedOut = true));
    clock.advance(499);
    await Promise.resolve();
    assert.equal(timedOut, false);
    clock.advance(1);
    await t;
    assert.equal(watch.waiting, 0);
    const released = [watch.next('x', 10_000), watch.next('y', 10_000)];
    watch.releaseAll();
    await Promise.all(released);
    assert.equal(watch.waiting, 0);
  });
});
