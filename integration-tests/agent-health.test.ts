// End to end: agent attributes and Mesos health checks, on a real master and a real agent (real
// cgroups, real Docker), seen by a raw scheduler-API framework. The agent runs with
// `--attributes rack:r1;zone:eu-1;gpus:2 --hostname agent-a.test`: offers carry them. A command task
// whose check is `test -f <file>` goes unhealthy, healthy once the file exists, and is killed after
// consecutive_failures once it is gone; a Docker task's check runs inside its container.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postCall, subscribeRaw, type RawSubscription } from '../master/scheduler/test-client.js';
import { TEST_IMAGE, TestCluster } from './harness/cluster.js';
import { waitFor } from './harness/wait.js';

type Json = Record<string, unknown>;

interface Status {
  task_id: { value: string };
  agent_id?: { value: string };
  state: string;
  reason?: string;
  message?: string;
  healthy?: boolean;
  uuid?: string;
}

interface Offer {
  id: { value: string };
  agent_id: { value: string };
  hostname: string;
  attributes?: unknown[];
}

/** A framework that keeps every event and acknowledges every update (the agent holds the next one until then). */
class Framework {
  readonly offers: Offer[] = [];
  readonly updates: Status[] = [];
  private pump: Promise<void> | undefined;

  private constructor(
    readonly sub: RawSubscription,
    readonly id: string,
    private readonly port: number,
  ) {}

  static async subscribe(port: number): Promise<Framework> {
    const sub = await subscribeRaw(port, { type: 'SUBSCRIBE', subscribe: { framework_info: { user: 'root', name: 'health-e2e' } } });
    assert.equal(sub.status, 200, sub.errorBody);
    const subscribed = await sub.next(10_000);
    assert.equal(subscribed.type, 'SUBSCRIBED');
    const id = ((subscribed.subscribed as Json).framework_id as { value: string }).value;
    const framework = new Framework(sub, id, port);
    framework.pump = framework.run();
    return framework;
  }

  async call(body: Json): Promise<{ status: number; body: string }> {
    return postCall(this.port, { framework_id: { value: this.id }, ...body }, { headers: { 'Mesos-Stream-Id': this.sub.streamId ?? '' } });
  }

  of(taskId: string): Status[] {
    return this.updates.filter((u) => u.task_id.value === taskId);
  }

  health(taskId: string): boolean[] {
    return this.of(taskId)
      .filter((u) => u.reason === 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED')
      .map((u) => u.healthy ?? false);
  }

  close(): Promise<void> {
    this.sub.close();
    return this.pump ?? Promise.resolve();
  }

  private async run(): Promise<void> {
    while (!this.sub.isEnded) {
      let event: Json & { type: string };
      try {
        event = await this.sub.next(60_000);
      } catch {
        return;
      }
      if (event.type === 'OFFERS') this.offers.push(...((event.offers as { offers: Offer[] }).offers));
      if (event.type === 'UPDATE') {
        const status = (event.update as { status: Status }).status;
        this.updates.push(status);
        if (status.uuid !== undefined && status.agent_id !== undefined) {
          await this.call({
            type: 'ACKNOWLEDGE',
            acknowledge: { agent_id: status.agent_id, task_id: status.task_id, uuid: status.uuid },
          }).catch(() => undefined);
        }
      }
    }
  }
}

const scalar = (name: string, value: number): Json => ({ name, type: 'SCALAR', scalar: { value } });

describe('agent attributes and health checks (real master, agent, cgroups, Docker)', function () {
  this.timeout(60_000);
  let cluster: TestCluster;
  let framework: Framework | undefined;
  const flag = join(tmpdir(), `tessera-health-${randomBytes(6).toString('hex')}`);

  before(async () => {
    cluster = await TestCluster.start({ agentArgs: ['--attributes', 'rack:r1;zone:eu-1;gpus:2', '--hostname', 'agent-a.test'] });
  });

  after(async () => {
    await framework?.close();
    await cluster?.stop();
    await rm(flag, { force: true });
  });

  it('offers carry the agent attributes and hostname; /master/state shows them', async () => {
    framework = await Framework.subscribe(cluster.masterPort);
    const fw = framework;
    const offer = await waitFor('an offer', () => fw.offers[0], 10_000);
    assert.equal(offer.hostname, 'agent-a.test');
    assert.deepEqual(offer.attributes, [
      { name: 'rack', type: 'TEXT', text: { value: 'r1' } },
      { name: 'zone', type: 'TEXT', text: { value: 'eu-1' } },
      { name: 'gpus', type: 'SCALAR', scalar: { value: 2 } },
    ]);
    const state = (await cluster.state()) as unknown as { slaves: Array<{ hostname: string; attributes: unknown }> };
    assert.equal(state.slaves[0]?.hostname, 'agent-a.test');
    assert.deepEqual(state.slaves[0]?.attributes, { rack: 'r1', zone: 'eu-1', gpus: 2 });
  });

  it('a command task goes unhealthy, healthy, and is killed after consecutive failures; a Docker task checks inside its container', async () => {
    const fw = framework;
    assert.ok(fw, 'subscribed by the previous test');
    const offer = await waitFor('an offer', () => fw.offers.at(-1), 10_000);
    const check = { delay_seconds: 0, interval_seconds: 1, timeout_seconds: 5, grace_period_seconds: 0, consecutive_failures: 3 };
    const accepted = await fw.call({
      type: 'ACCEPT',
      accept: {
        offer_ids: [offer.id],
        operations: [
          {
            type: 'LAUNCH',
            launch: {
              task_infos: [
                {
                  name: 'checked',
                  task_id: { value: 'checked' },
                  agent_id: offer.agent_id,
                  resources: [scalar('cpus', 0.2), scalar('mem', 32)],
                  command: { value: 'exec sleep 120' },
                  health_check: { type: 'COMMAND', command: { value: `test -f ${flag}` }, ...check },
                },
                {
                  name: 'boxed',
                  task_id: { value: 'boxed' },
                  agent_id: offer.agent_id,
                  resources: [scalar('cpus', 0.2), scalar('mem', 32)],
                  container: { type: 'DOCKER', docker: { image: TEST_IMAGE, network: 'NONE' } },
                  command: { value: 'exec sleep 120' },
                  // Inside the container: the busybox image has /bin/busybox, the host's /tmp is not there.
                  health_check: { type: 'COMMAND', command: { value: 'test -x /bin/busybox && test ! -e /etc/debian_version' }, ...check },
                },
              ],
            },
          },
        ],
        filters: { refuse_seconds: 0 },
      },
    });
    assert.equal(accepted.status, 202, accepted.body);

    await waitFor('checked: healthy false', () => fw.health('checked').includes(false) || undefined, 15_000);
    const unhealthy = fw.of('checked').find((u) => u.healthy === false);
    assert.equal(unhealthy?.state, 'TASK_RUNNING');
    await writeFile(flag, '');
    await waitFor('checked: healthy true', () => fw.health('checked').at(-1) === true || undefined, 15_000);

    await waitFor('boxed: healthy true', () => fw.health('boxed').at(-1) === true || undefined, 20_000);
    const task = (await (await fetch(`${cluster.masterUrl}/api/v1/tasks/boxed`)).json()) as { healthy?: boolean };
    assert.equal(task.healthy, true);

    await rm(flag);
    const killed = await waitFor(
      'checked: TASK_KILLED',
      () => fw.of('checked').find((u) => ['TASK_KILLED', 'TASK_FAILED', 'TASK_FINISHED'].includes(u.state)),
      20_000,
    );
    assert.equal(killed.state, 'TASK_KILLED', killed.message);
    assert.equal(killed.healthy, false);
    assert.match(killed.message ?? '', /3 consecutive failed health checks/);
    assert.deepEqual(fw.health('checked'), [false, true, false]);
    assert.deepEqual(fw.health('boxed'), [true]);

    const kill = await fw.call({ type: 'KILL', kill: { task_id: { value: 'boxed' }, agent_id: offer.agent_id } });
    assert.equal(kill.status, 202, kill.body);
    await waitFor('boxed: ended', () => fw.of('boxed').find((u) => u.state === 'TASK_KILLED'), 20_000);
  });
});
