// The keeper after a takeover (issue 5 failover bugs): restored tasks are of unknown health, not
// unhealthy; nothing launches before reconciliation is answered; tasks of our apps the master reports
// are adopted, not killed; tasks being killed count against maximumOverCapacity.
import assert from 'node:assert/strict';
import { parseAppDefinition } from './app-definition.js';
import { Keeper, type StoreChange } from './keeper.js';
import type { AppRecord, Deployment, TaskRecord } from './model.js';
import { ManualClock, countingIds, offer, status } from './testing.js';

const HC = [{ protocol: 'HTTP', gracePeriodSeconds: 5, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 3 }];

/** A leader that ran /web (3 instances) into a rolling upgrade: 3 old healthy tasks and 1 new one; returns what it stored. */
function storedMidUpgrade(clock: ManualClock, minimumHealthCapacity: number): { apps: AppRecord[]; tasks: TaskRecord[]; deployments: Deployment[] } {
  const stored = new Map<string, unknown>();
  const onChange = (c: StoreChange): void => {
    const key = `${c.kind}s/${c.id}`;
    if (c.record === undefined) stored.delete(key);
    else stored.set(key, JSON.parse(JSON.stringify(c.record)));
  };
  const keeper = new Keeper({ clock, ids: countingIds(), onChange });
  const strategy = { minimumHealthCapacity, maximumOverCapacity: 0.5 };
  keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'v1', instances: 3, healthChecks: HC, upgradeStrategy: strategy }));
  const old = keeper.offers([offer('a1')]).accept.flatMap((a) => a.tasks.map((t) => t.task_id.value));
  for (const id of old) keeper.update(status(id, 'TASK_RUNNING'));
  clock.advance(10_000);
  for (const id of old) keeper.healthResult(id, 0, true);
  keeper.tick();
  assert.equal(keeper.listDeployments().length, 0);
  keeper.updateApp(parseAppDefinition({ id: 'web', cmd: 'v2', instances: 3, healthChecks: HC, upgradeStrategy: strategy }));
  const fresh = keeper.offers([offer('a1')]).accept.flatMap((a) => a.tasks.map((t) => t.task_id.value));
  assert.equal(fresh.length, 1, '3 × 1.5 → one new task at a time');
  for (const id of fresh) keeper.update(status(id, 'TASK_RUNNING'));
  keeper.tick();
  const of = (prefix: string): unknown[] => [...stored].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  return { apps: of('apps/') as AppRecord[], tasks: of('tasks/') as TaskRecord[], deployments: of('deployments/') as Deployment[] };
}

function takeOver(clock: ManualClock, state: ReturnType<typeof storedMidUpgrade>): Keeper {
  const keeper = new Keeper({ clock, ids: countingIds() });
  keeper.load(state);
  return keeper;
}

describe('services keeper after a takeover', () => {
  it('does not kill restored old tasks for unknown health; stays within minimumHealthCapacity', () => {
    const clock = new ManualClock();
    const state = storedMidUpgrade(clock, 1);
    assert.equal(state.tasks.length, 4);
    clock.advance(1000);
    const keeper = takeOver(clock, state);
    const kills = keeper.tick().kills;
    // 3 × 1 = 3 healthy-or-unknown must remain of the 4 live tasks: at most one old one goes.
    assert.ok(kills.length <= 1, `killed ${kills.length} tasks right after the takeover`);
    const available = keeper.allTasks().filter((t) => keeper.isAvailable(t)).length;
    assert.ok(available >= 3, `only ${available} healthy-or-unknown tasks left`);
  });

  it('kills a restored task for health only after maxConsecutiveFailures real failures', () => {
    const clock = new ManualClock();
    const state = storedMidUpgrade(clock, 1);
    clock.advance(1000);
    const keeper = takeOver(clock, state);
    const app = keeper.getApp('/web');
    const old = keeper.tasksOf('/web').filter((t) => t.version !== app?.configVersion && !t.killing);
    keeper.tick();
    const survivor = old.find((t) => !t.killing);
    assert.ok(survivor);
    keeper.healthResult(survivor.taskId, 0, false, 'refused');
    keeper.healthResult(survivor.taskId, 0, false, 'refused');
    assert.equal(keeper.getTask(survivor.taskId)?.killing, undefined, 'two failures of three: not killed');
    assert.ok(keeper.isAvailable(survivor));
    keeper.healthResult(survivor.taskId, 0, false, 'refused');
    assert.equal(keeper.getTask(survivor.taskId)?.killing?.reason, 'unhealthy');
  });

  it('a restored task whose checks all pass is healthy; then an ordinary failure makes it unhealthy', () => {
    const clock = new ManualClock();
    const state = storedMidUpgrade(clock, 0.5);
    clock.advance(1000);
    const keeper = takeOver(clock, state);
    const task = keeper.allTasks().find((t) => !t.killing);
    assert.ok(task);
    keeper.healthResult(task.taskId, 0, true);
    assert.ok(keeper.isHealthy(task));
    keeper.healthResult(task.taskId, 0, false, 'x');
    assert.equal(keeper.isAvailable(task), false, 'known now: a failure counts');
  });

  it('launches nothing until the stored tasks are reconciled, or the wait ran out', () => {
    const clock = new ManualClock();
    const state = storedMidUpgrade(clock, 1);
    const keeper = takeOver(clock, state);
    keeper.beginReconciliation();
    // The master answers with one old task gone: /web lacks a task, but offers wait for the other answers.
    const [gone, ...rest] = state.tasks;
    assert.ok(gone);
    keeper.update(status(gone.taskId, 'TASK_LOST'));
    assert.equal(keeper.tick().wantsOffers, true);
    const waiting = keeper.offers([offer('a1')]);
    assert.equal(waiting.accept.length, 0, 'launched before reconciliation was answered');
    assert.equal(waiting.decline[0]?.refuseSeconds, 1);
    for (const t of rest) keeper.update(status(t.taskId, 'TASK_RUNNING'));
    assert.equal(keeper.reconciling, false);
    clock.advance(60_000); // past the backoff the lost task caused
    assert.equal(keeper.offers([offer('a1')]).accept.length, 1);

    // Unanswered: the wait is bounded.
    const other = takeOver(clock, state);
    other.beginReconciliation();
    assert.equal(other.offers([offer('a1')]).accept.length, 0);
    assert.equal(other.nextWakeup(), clock.now() + 5000);
    clock.advance(5000);
    assert.equal(other.reconciling, false);
  });

  it('adopts a task of its app the master reports, and kills one of no app', () => {
    const clock = new ManualClock();
    const keeper = new Keeper({ clock, ids: countingIds() });
    keeper.createApp(parseAppDefinition({ id: '/group/web', cmd: 'x', instances: 1, upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 1 } }));
    keeper.update(status('group_web.f00d', 'TASK_RUNNING', 'a9'));
    keeper.update(status('gone.beef', 'TASK_RUNNING', 'a9'));
    const kills = keeper.tick().kills;
    assert.deepEqual(kills.map((k) => k.taskId), ['gone.beef']);
    assert.equal(keeper.getTask('group_web.f00d')?.agentId, 'a9');
    // Of unknown version: replaced like an old task, the replacement first (minimumHealthCapacity 1).
    const launched = keeper.offers([offer('a1')]).accept.flatMap((a) => a.tasks.map((t) => t.task_id.value));
    assert.equal(launched.length, 1);
    assert.deepEqual(keeper.tick().kills, []);
    keeper.update(status(launched[0] ?? '', 'TASK_RUNNING'));
    assert.deepEqual(keeper.tick().kills.map((k) => k.taskId), ['group_web.f00d']);
  });
});

describe('services keeper over-capacity', () => {
  it('counts tasks being killed until they are gone', () => {
    const clock = new ManualClock();
    const keeper = new Keeper({ clock, ids: countingIds() });
    const strategy = { minimumHealthCapacity: 0.5, maximumOverCapacity: 0.5 };
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'v1', instances: 2, upgradeStrategy: strategy }));
    for (const t of keeper.offers([offer('a1')]).accept.flatMap((a) => a.tasks)) keeper.update(status(t.task_id.value, 'TASK_RUNNING'));
    keeper.tick();
    keeper.updateApp(parseAppDefinition({ id: 'web', cmd: 'v2', instances: 2, upgradeStrategy: strategy }));
    // 2 × 1.5 = 3 at most: one new task, then old ones go.
    const first = keeper.offers([offer('a1')]).accept.flatMap((a) => a.tasks);
    assert.equal(first.length, 1);
    keeper.update(status(first[0]?.task_id.value ?? '', 'TASK_RUNNING'));
    const kills = keeper.tick().kills;
    assert.ok(kills.length >= 1);
    // The kills are not answered yet: those tasks still run, so nothing more may start.
    const alive = keeper.allTasks().length;
    const more = keeper.offers([offer('a1')]).accept.flatMap((a) => a.tasks).length;
    assert.ok(alive + more <= 3, `${alive} alive (some being killed) + ${more} launched > 3`);
    for (const k of kills) keeper.update(status(k.taskId, 'TASK_KILLED'));
    assert.ok(keeper.offers([offer('a1')]).accept.flatMap((a) => a.tasks).length >= 1, 'launches once the killed tasks are gone');
  });
});
