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

  it('kills one task through the API: replaced without scale, instances lowered and stored with scale', () => {
    const changes: string[] = [];
    const clock = new ManualClock();
    const keeper = new Keeper({ clock, ids: countingIds(), onChange: (c) => changes.push(`${c.kind}:${c.id}`) });
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 3 }));
    const [t1, t2, t3] = launchAll(keeper);
    keeper.tick();
    assert.equal(keeper.listDeployments().length, 0);

    // Without scale: killed, no deployment, a replacement is wanted at once (no backoff).
    const plain = keeper.killTasks('/web', { taskIds: [t1 ?? ''] });
    assert.equal(plain.deployment, undefined);
    assert.deepEqual(plain.killed.map((t) => t.taskId), [t1]);
    const first = keeper.tick();
    assert.deepEqual(first.kills.map((k) => k.taskId), [t1]);
    assert.equal(first.wantsOffers, true, 'the killed task is replaced');
    keeper.update(status(t1 ?? '', 'TASK_KILLED'));
    assert.equal(keeper.backoffOf('/web'), undefined, 'a kill asked for is no failure');
    const [t4] = launchAll(keeper);
    assert.ok(t4);
    assert.equal(keeper.tasksOf('/web').length, 3);

    // With scale: instances 3 → 2, stored as a new app version, a ScaleApplication deployment, no replacement.
    changes.length = 0;
    const before = keeper.getApp('/web')?.version ?? '';
    const scaled = keeper.killTasks('/web', { taskIds: [t2 ?? ''] }, { scale: true });
    assert.ok(scaled.deployment);
    const app = keeper.getApp('/web');
    assert.equal(app?.definition.instances, 2);
    assert.ok((app?.version ?? '') > before);
    assert.ok(changes.includes('app:/web'), 'the lower instances are stored');
    assert.equal(keeper.listDeployments()[0]?.action, 'ScaleApplication');
    const second = keeper.tick();
    assert.deepEqual(second.kills.map((k) => k.taskId), [t2]);
    assert.equal(second.wantsOffers, false, 'nothing replaces a task killed with scale');
    keeper.update(status(t2 ?? '', 'TASK_KILLED'));
    keeper.tick();
    assert.equal(keeper.listDeployments().length, 0, 'the scale deployment finished');
    assert.deepEqual(keeper.tasksOf('/web').map((t) => t.taskId).sort(), [t3, t4].sort());

    // Unknown task, or a task of another app: not found; all with scale: instances 0.
    assert.throws(() => keeper.killTasks('/web', { taskIds: ['web.nope'] }), (err: unknown) => (err as { code?: string }).code === 'NOT_FOUND');
    assert.throws(() => keeper.killTasks('/nope', {}), (err: unknown) => (err as { code?: string }).code === 'NOT_FOUND');
    const all = keeper.killTasks('/web', {}, { scale: true });
    assert.equal(all.killed.length, 2);
    assert.equal(keeper.getApp('/web')?.definition.instances, 0);
    assert.equal(keeper.tick().kills.length, 2);
  });

  it('kills all tasks on one host only with ?host=', () => {
    const { keeper } = setup();
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 2, cpus: 1 }));
    keeper.offers([offer('a1', { cpus: 1, hostname: 'h1' }), offer('a2', { cpus: 1, hostname: 'h2' })]);
    const { killed } = keeper.killTasks('/web', { host: 'h2' });
    assert.deepEqual(killed.map((t) => t.host), ['h2']);
    assert.equal(keeper.tick().kills.length, 1);
  });

  it('spreads a GROUP_BY app evenly over the rack values on offer, also across offer rounds', () => {
    const { keeper, clock } = setup();
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 6, cpus: 0.1, mem: 8, constraints: [['rack', 'GROUP_BY']] }));
    // Three racks; rack r1 has two agents, and its offers come first in the batch.
    const batch = [
      offer('a1', { hostname: 'h1', attributes: { rack: 'r1' } }),
      offer('a2', { hostname: 'h2', attributes: { rack: 'r1' } }),
      offer('a3', { hostname: 'h3', attributes: { rack: 'r2' } }),
      offer('a4', { hostname: 'h4', attributes: { rack: 'r3' } }),
    ];
    const d = keeper.offers(batch);
    const perRack = (): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const t of keeper.tasksOf('/web')) counts[t.attributes.rack ?? '?'] = (counts[t.attributes.rack ?? '?'] ?? 0) + 1;
      return counts;
    };
    assert.ok(d.accept.flatMap((a) => a.tasks).length >= 3);
    const first = perRack();
    assert.deepEqual(Object.keys(first).sort(), ['r1', 'r2', 'r3'], 'every rack got one, though r1 was offered first and twice');
    assert.ok(Math.max(...Object.values(first)) - Math.min(...Object.values(first)) <= 1, JSON.stringify(first));
    keeper.offers(batch);
    assert.deepEqual(perRack(), { r1: 2, r2: 2, r3: 2 });

    // With an explicit count of 2 and only r1 offered, a second task waits for another rack.
    keeper.createApp(parseAppDefinition({ id: 'db', cmd: 'x', instances: 2, cpus: 0.1, mem: 8, constraints: [['rack', 'GROUP_BY', '2']] }));
    clock.advance(61_000); // the racks offered above are forgotten: only the count says 2
    const only = keeper.offers([offer('a1', { hostname: 'h1', attributes: { rack: 'r1' } })]);
    assert.equal(only.accept.flatMap((a) => a.tasks).filter((t) => t.name === 'db').length, 1);
    assert.equal(keeper.offers([offer('a2', { hostname: 'h2', attributes: { rack: 'r1' } })]).accept.length, 0, 'r1 again: refused');
    assert.equal(keeper.offers([offer('a3', { hostname: 'h3', attributes: { rack: 'r2' } })]).accept.length, 1);
  });

  it('walks a deployment through Marathon steps with deployment_info / deployment_step_success / deployment_success', () => {
    const { keeper, events } = setup();
    const hc = [{ protocol: 'HTTP', gracePeriodSeconds: 10, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 2 }];
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'v1', instances: 2, healthChecks: hc, upgradeStrategy: { minimumHealthCapacity: 0.5, maximumOverCapacity: 0 } }));
    const [d] = keeper.listDeployments();
    assert.ok(d);
    assert.deepEqual(keeper.planView(d).steps, [{ actions: [{ action: 'StartApplication', app: '/web' }] }, { actions: [{ action: 'ScaleApplication', app: '/web' }] }]);
    assert.equal(d.currentStep, 0);
    const [t1, t2] = (keeper.offers([offer('a1')]).accept[0]?.tasks ?? []).map((t) => t.task_id.value);
    keeper.tick();
    assert.equal(d.currentStep, 0, 'nothing runs yet');
    keeper.update(status(t1 ?? '', 'TASK_RUNNING'));
    keeper.tick();
    assert.equal(d.currentStep, 1, 'started: one task runs');
    const stepEvents = (): string[] => events.filter((e) => e.eventType.startsWith('deployment_')).map((e) => `${e.eventType}:${JSON.stringify(e.currentStep ?? null)}`);
    assert.deepEqual(stepEvents(), [
      'deployment_info:{"actions":[{"action":"StartApplication","app":"/web"}]}',
      'deployment_step_success:{"actions":[{"action":"StartApplication","app":"/web"}]}',
      'deployment_info:{"actions":[{"action":"ScaleApplication","app":"/web"}]}',
    ]);
    keeper.update(status(t2 ?? '', 'TASK_RUNNING'));
    keeper.healthResult(t1 ?? '', 0, true);
    keeper.tick();
    assert.equal(keeper.listDeployments().length, 1, 'not done until both are healthy');
    keeper.healthResult(t2 ?? '', 0, true);
    keeper.tick();
    assert.equal(keeper.listDeployments().length, 0);
    assert.equal(events.at(-1)?.eventType, 'deployment_success');

    // A rolling restart: RestartApplication (old tasks gone), then ScaleApplication (new ones healthy).
    events.length = 0;
    keeper.restartApp('/web');
    const [r] = keeper.listDeployments();
    assert.ok(r);
    assert.deepEqual(r.steps, [['RestartApplication'], ['ScaleApplication']]);
    const configVersion = keeper.getApp('/web')?.configVersion;
    const steps: number[] = [];
    const pending: string[] = [];
    for (let round = 0; round < 10 && keeper.listDeployments().length > 0; round++) {
      const { kills } = keeper.tick();
      steps.push(r.currentStep);
      // Step 1 lasts exactly while a task of the old version is left.
      const oldLeft = keeper.tasksOf('/web').some((t) => t.version !== configVersion);
      assert.equal(r.currentStep === 0, oldLeft, `round ${round}: step ${r.currentStep + 1} with old tasks ${oldLeft ? '' : 'not '}left`);
      for (const k of kills) keeper.update(status(k.taskId, 'TASK_KILLED'));
      // New tasks pass their check one round after they run: the second step then shows on its own.
      for (const id of pending.splice(0)) keeper.healthResult(id, 0, true);
      pending.push(...launchAll(keeper));
    }
    assert.equal(keeper.listDeployments().length, 0);
    assert.ok(steps.includes(0) && steps.includes(1), `both steps were seen: ${steps.join(',')}`);
    assert.deepEqual(
      events.filter((e) => e.eventType.startsWith('deployment_')).map((e) => e.eventType),
      ['deployment_info', 'deployment_step_success', 'deployment_info', 'deployment_step_success', 'deployment_success'],
    );
  });

  it('sends a COMMAND check to the agent and takes its healthy verdicts; an agent kill is replaced', () => {
    const { keeper, events, clock } = setup();
    const check = { protocol: 'COMMAND', command: { value: 'test -f /tmp/ok' }, gracePeriodSeconds: 7, intervalSeconds: 2, timeoutSeconds: 1, maxConsecutiveFailures: 3 };
    keeper.createApp(parseAppDefinition({ id: 'web', cmd: 'x', instances: 1, backoffSeconds: 1, healthChecks: [check, { protocol: 'TCP', gracePeriodSeconds: 7, intervalSeconds: 2, timeoutSeconds: 1 }] }));
    const [info] = keeper.offers([offer('a1')]).accept[0]?.tasks ?? [];
    assert.ok(info);
    assert.deepEqual({ ...info.health_check, command: { ...info.health_check?.command, environment: undefined } }, {
      type: 'COMMAND',
      command: { shell: true, value: 'test -f /tmp/ok', environment: undefined },
      delay_seconds: 0,
      interval_seconds: 2,
      timeout_seconds: 1,
      consecutive_failures: 3,
      grace_period_seconds: 7,
    });
    const id = info.task_id.value;
    keeper.update(status(id, 'TASK_RUNNING'));
    keeper.healthResult(id, 1, true); // the TCP check, probed by the framework
    const task = (): NonNullable<ReturnType<typeof keeper.getTask>> => keeper.getTask(id) ?? assert.fail('task gone');
    assert.equal(keeper.isHealthy(task()), false, 'no verdict from the agent yet');
    keeper.update({ ...status(id, 'TASK_RUNNING'), healthy: false, reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED' });
    assert.equal(task().health[0]?.alive, false);
    keeper.tick();
    assert.equal(keeper.listDeployments().length, 1, 'an unhealthy task does not finish the deployment');
    assert.deepEqual(keeper.tick().kills, [], 'the framework never kills for a COMMAND check: the agent does');
    keeper.update({ ...status(id, 'TASK_RUNNING'), healthy: true, reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED' });
    assert.equal(keeper.isHealthy(task()), true);
    keeper.tick();
    assert.equal(keeper.listDeployments().length, 0);
    assert.ok(events.some((e) => e.eventType === 'health_status_changed_event' && e.alive === true));

    // The agent kills it after its consecutive failures: reported, and replaced after the backoff.
    keeper.update({ ...status(id, 'TASK_RUNNING'), healthy: false, reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED' });
    keeper.update({ ...status(id, 'TASK_KILLED'), healthy: false, message: 'health check failed 3 times' });
    assert.ok(events.some((e) => e.eventType === 'unhealthy_task_kill_event' && e.taskId === id));
    assert.equal(keeper.tasksOf('/web').length, 0);
    assert.equal(keeper.tick().wantsOffers, true);
    clock.advance(1000);
    assert.equal(keeper.offers([offer('a1')]).accept[0]?.tasks.length, 1, 'replaced');
  });
});
