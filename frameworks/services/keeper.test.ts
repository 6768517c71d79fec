import assert from 'node:assert/strict';
import { parseAppDefinition } from './app-definition.js';
import { Keeper } from './keeper.js';
import type { ServiceEvent } from './model.js';
import { ManualClock, countingIds, offer, status } from './testing.js';

function setup() {
  const clock = new ManualClock();
  const events: ServiceEvent[] = [];
  const keeper = new Keeper({ clock, ids: countingIds(), emit: (e) => events.push(e) });
  return { clock, events, keeper };
}

/** Offers to a1 and reports every launched task RUNNING; returns their ids. */
function launchAll(keeper: Keeper, agent = 'a1'): string[] {
  const decision = keeper.offers([offer(agent)]);
  const ids = decision.accept.flatMap((a) => a.tasks.map((t) => t.task_id.value));
  for (const id of ids) keeper.update(status(id, 'TASK_RUNNING', agent));
  return ids;
}

describe('services keeper', () => {
  it('launches the declared instances with ports and env, then wants nothing', () => {
    const { keeper, events } = setup();
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'serve', instances: 3, cpus: 0.5, mem: 64, ports: [0, 0] }));
    assert.equal(keeper.tick().wantsOffers, true);
    const decision = keeper.offers([offer('a1')]);
    const tasks = decision.accept[0]?.tasks ?? [];
    assert.equal(tasks.length, 3);
    const env = Object.fromEntries((tasks[0]?.command?.environment?.variables ?? []).map((v) => [v.name, v.value]));
    assert.equal(env.PORT0, '31000');
    assert.equal(env.PORT1, '31001');
    assert.equal(env.MARATHON_APP_ID, '/web');
    const env2 = Object.fromEntries((tasks[1]?.command?.environment?.variables ?? []).map((v) => [v.name, v.value]));
    assert.equal(env2.PORT0, '31002');
    assert.equal(keeper.tick().wantsOffers, false);
    for (const t of tasks) keeper.update(status(t.task_id.value, 'TASK_RUNNING'));
    keeper.tick();
    assert.ok(events.some((e) => e.eventType === 'deployment_success'));
    assert.equal(keeper.listDeployments().length, 0);
    // Nothing wanted: a new offer is declined for long.
    const idle = keeper.offers([offer('a1')]);
    assert.equal(idle.accept.length, 0);
    assert.equal(idle.decline[0]?.refuseSeconds, 120);
  });

  it('does not launch what an offer cannot hold', () => {
    const { keeper } = setup();
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 3, cpus: 1, mem: 100 }));
    assert.equal(keeper.offers([offer('a1', { cpus: 2.5 })]).accept[0]?.tasks.length, 2);
    assert.equal(keeper.offers([offer('a2', { mem: 50 })]).accept.length, 0);
  });

  it('honours hostname UNIQUE and attribute LIKE constraints', () => {
    const { keeper } = setup();
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 3, constraints: [['hostname', 'UNIQUE']] }));
    const d = keeper.offers([offer('a1', { hostname: 'h1' }), offer('a2', { hostname: 'h1' }), offer('a3', { hostname: 'h2' })]);
    assert.deepEqual(d.accept.map((a) => a.tasks.length), [1, 1]);
    assert.equal(d.decline.length, 1);
    keeper.createApp(parseAppDefinition({ id: 'db', cmd: 'x', instances: 2, constraints: [['rack', 'LIKE', 'r1']] }));
    const e = keeper.offers([offer('b1', { hostname: 'h9', attributes: { rack: 'r2' } }), offer('b2', { hostname: 'h8', attributes: { rack: 'r1' } })]);
    const dbTasks = e.accept.flatMap((a) => a.tasks).filter((t) => t.name === 'db');
    assert.equal(dbTasks.length, 2);
    assert.ok(dbTasks.every((t) => t.agent_id.value === 'b2'));
  });

  it('replaces a failed task after an exponential backoff', () => {
    const { keeper, clock } = setup();
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 1, backoffSeconds: 2, backoffFactor: 2, maxLaunchDelaySeconds: 5 }));
    const [first] = launchAll(keeper);
    keeper.update(status(first ?? '', 'TASK_FAILED'));
    assert.equal(keeper.tick().wantsOffers, true);
    const during = keeper.offers([offer('a1')]);
    assert.equal(during.accept.length, 0, 'no launch during the backoff');
    assert.equal(during.decline[0]?.refuseSeconds, 2);
    clock.advance(2000);
    const [second] = launchAll(keeper);
    assert.ok(second);
    keeper.update(status(second, 'TASK_FAILED'));
    assert.equal(keeper.backoffOf('/web')?.notBefore, clock.now() + 4000);
    clock.advance(4000);
    const [third] = launchAll(keeper);
    keeper.update(status(third ?? '', 'TASK_LOST'));
    assert.equal(keeper.backoffOf('/web')?.notBefore, clock.now() + 5000, 'capped by maxLaunchDelaySeconds');
  });

  it('does not back off for tasks it killed itself, and kills on scale down', () => {
    const { keeper } = setup();
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 3 }));
    launchAll(keeper);
    keeper.tick();
    keeper.updateApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 1 }));
    const { kills } = keeper.tick();
    assert.equal(kills.length, 2);
    for (const k of kills) keeper.update(status(k.taskId, 'TASK_KILLED'));
    keeper.tick();
    assert.equal(keeper.backoffOf('/web'), undefined);
    assert.equal(keeper.tasksOf('/web').length, 1);
    assert.equal(keeper.listDeployments().length, 0);
  });

  it('rolls an upgrade within maximumOverCapacity and minimumHealthCapacity', () => {
    const { keeper } = setup();
    const strategy = { minimumHealthCapacity: 0.5, maximumOverCapacity: 0.5 };
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'v1', instances: 4, upgradeStrategy: strategy }));
    launchAll(keeper);
    keeper.tick();
    keeper.updateApp(parseAppDefinition({ id: 'web', cmd: 'v2', instances: 4, upgradeStrategy: strategy }));
    let healthyMin = Infinity;
    let totalMax = 0;
    for (let round = 0; round < 20 && keeper.listDeployments().length > 0; round++) {
      const { kills } = keeper.tick();
      for (const k of kills) keeper.update(status(k.taskId, 'TASK_KILLED'));
      const live = keeper.allTasks().filter((t) => !t.killing);
      healthyMin = Math.min(healthyMin, live.filter((t) => keeper.isHealthy(t)).length);
      launchAll(keeper);
      totalMax = Math.max(totalMax, keeper.allTasks().length);
    }
    assert.equal(keeper.listDeployments().length, 0, 'the deployment finished');
    assert.ok(totalMax <= 6, `never more than 4 × 1.5 tasks (saw ${totalMax})`);
    assert.ok(healthyMin >= 2, `never fewer than 4 × 0.5 healthy (saw ${healthyMin})`);
    const tasks = keeper.tasksOf('/web');
    assert.equal(tasks.length, 4);
    assert.ok(tasks.every((t) => t.version === keeper.getApp('/web')?.configVersion));
  });

  it('waits for health before killing old tasks; kills after maxConsecutiveFailures', () => {
    const { keeper, clock, events } = setup();
    const hc = [{ protocol: 'HTTP', gracePeriodSeconds: 10, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 2 }];
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'v1', instances: 1, healthChecks: hc }));
    const [t1] = launchAll(keeper);
    keeper.tick();
    assert.equal(keeper.listDeployments().length, 1, 'not done until healthy');
    keeper.healthResult(t1 ?? '', 0, false, 'refused'); // within the grace period: ignored
    assert.equal(keeper.getTask(t1 ?? '')?.health[0]?.consecutiveFailures, 0);
    keeper.healthResult(t1 ?? '', 0, true);
    keeper.tick();
    assert.equal(keeper.listDeployments().length, 0);

    keeper.updateApp(parseAppDefinition({ id: 'web', cmd: 'v2', instances: 1, healthChecks: hc }));
    const [t2] = launchAll(keeper);
    assert.deepEqual(keeper.tick().kills, [], 'old task stays until the new one is healthy');
    keeper.healthResult(t2 ?? '', 0, true);
    assert.deepEqual(keeper.tick().kills.map((k) => k.taskId), [t1]);
    keeper.update(status(t1 ?? '', 'TASK_KILLED'));

    clock.advance(60_000);
    keeper.healthResult(t2 ?? '', 0, false, 'HTTP 500');
    assert.deepEqual(keeper.tick().kills, []);
    keeper.healthResult(t2 ?? '', 0, false, 'HTTP 500');
    assert.deepEqual(keeper.tick().kills.map((k) => k.taskId), [t2]);
    assert.ok(events.some((e) => e.eventType === 'unhealthy_task_kill_event'));
    assert.ok(events.some((e) => e.eventType === 'health_status_changed_event' && e.alive === false));
    keeper.update(status(t2 ?? '', 'TASK_KILLED'));
    assert.ok(keeper.backoffOf('/web'), 'an unhealthy kill counts as a failure');
  });

  it('refuses a change while a deployment runs, unless forced', () => {
    const { keeper, events } = setup();
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 1 }));
    assert.throws(() => keeper.restartApp('/web'), /locked/);
    keeper.restartApp('/web', true);
    assert.equal(keeper.listDeployments().length, 1);
    assert.ok(events.some((e) => e.eventType === 'deployment_failed'));
  });

  it('kills everything of a deleted app and unknown tasks', () => {
    const { keeper } = setup();
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 2 }));
    launchAll(keeper);
    keeper.tick();
    keeper.deleteApp('/web');
    keeper.update(status('stranger.1', 'TASK_RUNNING', 'a7'));
    const kills = keeper.tick().kills;
    assert.equal(kills.length, 3);
    assert.ok(kills.some((k) => k.taskId === 'stranger.1' && k.agentId === 'a7'));
    for (const k of kills) keeper.update(status(k.taskId, 'TASK_KILLED'));
    keeper.tick();
    assert.equal(keeper.listDeployments().length, 0);
  });
});
