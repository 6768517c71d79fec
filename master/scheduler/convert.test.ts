import {
  ValidationError,
  fromMesosResources,
  masterInfoFor,
  type TaskStatus,
  type MesosTaskInfo,
} from '../../common/index.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  masterInfoToMesos,
  offerToMesos,
  refuseSeconds,
  statusToMesos,
  taskInfoFromMesos,
  uuidFromMesos,
  uuidToMesos,
} from './convert.js';

const F = 'accept.operations[0].launch.task_infos[0]';

function mesosTask(overrides: Partial<MesosTaskInfo> = {}): MesosTaskInfo {
  return {
    name: 'web',
    task_id: { value: 'web.1' },
    agent_id: { value: 'agent-1' },
    resources: [
      { name: 'cpus', type: 'SCALAR', scalar: { value: 0.5 } },
      { name: 'mem', type: 'SCALAR', scalar: { value: 64 } },
    ],
    command: { value: 'echo hi' },
    ...overrides,
  };
}

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err.field;
  }
  assert.fail('expected a ValidationError');
}

describe('Mesos conversion', () => {
  describe('taskInfoFromMesos', () => {
    it('converts a command task', () => {
      const info = taskInfoFromMesos(
        mesosTask({
          command: { value: 'sleep 1', shell: true, user: 'nobody', environment: { variables: [{ name: 'A', value: '1', type: 'VALUE' }] } },
          kill_policy: { grace_period: { nanoseconds: 2_500_000_000 } },
        }),
        'fw-1',
        F,
      );
      assert.deepEqual(info, {
        task_id: 'web.1',
        name: 'web',
        agent_id: 'agent-1',
        framework_id: 'fw-1',
        resources: { cpus: 0.5, mem: 64 },
        command: { value: 'sleep 1', shell: true, user: 'nobody', environment: { variables: [{ name: 'A', value: '1' }] } },
        kill_grace_period_seconds: 2.5,
      });
    });

    it('converts a docker task with ports, and needs no command value for it', () => {
      const info = taskInfoFromMesos(
        mesosTask({
          command: undefined,
          resources: [
            { name: 'cpus', type: 'SCALAR', scalar: { value: 1 } },
            { name: 'mem', type: 'SCALAR', scalar: { value: 128 } },
            { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31001 }] } },
          ],
          container: { type: 'DOCKER', docker: { image: 'tessera-test/busybox:latest', network: 'HOST', force_pull_image: false } },
          kill_policy: { grace_period: { nanoseconds: '3000000000' } },
        }),
        'fw-1',
        F,
      );
      assert.deepEqual(info.container, { type: 'DOCKER', docker: { image: 'tessera-test/busybox:latest', network: 'HOST', force_pull_image: false } });
      assert.deepEqual(info.resources, { cpus: 1, mem: 128, ports: [{ begin: 31000, end: 31001 }] });
      assert.equal(info.kill_grace_period_seconds, 3);
      assert.equal(info.command, undefined);
    });

    it('treats a MESOS container without image as a command task', () => {
      const info = taskInfoFromMesos(mesosTask({ container: { type: 'MESOS' } }), 'fw-1', F);
      assert.equal(info.container, undefined);
    });

    it('refuses invalid or unsupported tasks, naming the Mesos field', () => {
      const bad = (t: MesosTaskInfo): string | undefined => fieldOf(() => taskInfoFromMesos(t, 'fw-1', F));
      assert.equal(bad(mesosTask({ command: {} })), `${F}.command.value`);
      assert.equal(bad(mesosTask({ command: undefined })), `${F}.command.value`);
      assert.equal(bad(mesosTask({ task_id: { value: 'a/b' } })), `${F}.task_id.value`);
      assert.equal(bad(mesosTask({ task_id: { value: '..' } })), `${F}.task_id.value`);
      assert.equal(bad(mesosTask({ task_id: { value: 'x'.repeat(256) } })), `${F}.task_id.value`);
      assert.equal(bad(mesosTask({ task_id: { value: 'has space' } })), `${F}.task_id.value`);
      assert.equal(bad(mesosTask({ resources: [] })), `${F}.resources`);
      assert.equal(bad(mesosTask({ resources: [{ name: 'gpus', type: 'SCALAR', scalar: { value: 1 } }] })), `${F}.resources[0].name`);
      assert.equal(bad(mesosTask({ resources: [{ name: 'cpus', type: 'SCALAR', scalar: { value: -1 } }] })), `${F}.resources[0].scalar.value`);
      assert.equal(bad({ ...mesosTask(), executor: { executor_id: { value: 'e' } } } as MesosTaskInfo), `${F}.executor`);
      assert.equal(bad(mesosTask({ command: { value: 'x', uris: [{ value: 'http://x/y.tgz' }] } })), `${F}.command.uris`);
      assert.equal(bad(mesosTask({ command: { value: 'x', environment: { variables: [{ name: 'S', type: 'SECRET' }] } } })), `${F}.command.environment.variables[0].type`);
      assert.equal(bad(mesosTask({ command: { value: 'x', environment: { variables: [{ name: 'A' }] } } })), `${F}.command.environment.variables[0].value`);
      assert.equal(bad(mesosTask({ container: { type: 'DOCKER' } })), `${F}.container.docker`);
      assert.equal(bad(mesosTask({ container: { type: 'DOCKER', docker: { image: 'x', network: 'USER' } } })), `${F}.container.docker.network`);
      assert.equal(
        bad(mesosTask({ container: { type: 'DOCKER', docker: { image: 'x', network: 'BRIDGE', port_mappings: [{ host_port: 31000, container_port: 80 }] } } })),
        `${F}.container.docker.port_mappings`,
      );
      assert.equal(bad(mesosTask({ kill_policy: { grace_period: { nanoseconds: -1 } } })), `${F}.kill_policy.grace_period.nanoseconds`);
      // Rules of the agent's launch schema surface here, under the Mesos name.
      assert.equal(bad(mesosTask({ kill_policy: { grace_period: { nanoseconds: 7200e9 } } })), `${F}.kill_policy.grace_period.nanoseconds`);
      assert.equal(bad(mesosTask({ container: { type: 'DOCKER', docker: { image: 'Not An Image' } } })), `${F}.container.docker.image`);
      assert.equal(bad(mesosTask({ command: { value: 'x', environment: { variables: [{ name: '1X', value: '' }] } } })), `${F}.command.environment.variables[0].name`);
    });
  });

  describe('uuids', () => {
    it('round-trips a canonical UUID through Mesos base64 bytes', () => {
      for (let i = 0; i < 20; i++) {
        const uuid = randomUUID();
        const b64 = uuidToMesos(uuid);
        assert.equal(Buffer.from(b64, 'base64').length, 16);
        assert.equal(uuidFromMesos(b64, 'acknowledge.uuid'), uuid);
      }
      assert.equal(uuidToMesos('00112233-4455-6677-8899-aabbccddeeff'), Buffer.from('00112233445566778899aabbccddeeff', 'hex').toString('base64'));
    });

    it('refuses what is not 16 bytes of base64', () => {
      assert.equal(fieldOf(() => uuidFromMesos('%%%', 'acknowledge.uuid')), 'acknowledge.uuid');
      assert.equal(fieldOf(() => uuidFromMesos(Buffer.alloc(15).toString('base64'), 'acknowledge.uuid')), 'acknowledge.uuid');
      assert.throws(() => uuidToMesos('not-a-uuid'));
    });
  });

  describe('statusToMesos', () => {
    const status: TaskStatus = {
      task_id: 't1',
      agent_id: 'a1',
      state: 'TASK_FAILED',
      reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
      message: 'oom',
      source: 'SOURCE_AGENT',
      timestamp: 1700000000.5,
      uuid: '00112233-4455-6677-8899-aabbccddeeff',
      container_status: { container_id: 'c1', exit_code: 137 },
    };

    it('writes the Mesos shape with a base64 uuid', () => {
      assert.deepEqual(statusToMesos(status), {
        task_id: { value: 't1' },
        agent_id: { value: 'a1' },
        state: 'TASK_FAILED',
        reason: 'REASON_CONTAINER_LIMITATION_MEMORY',
        message: 'oom',
        source: 'SOURCE_AGENT',
        timestamp: 1700000000.5,
        uuid: uuidToMesos(status.uuid),
        container_status: { container_id: { value: 'c1' } },
      });
    });

    it('leaves the uuid out of answers that must not be acknowledged', () => {
      assert.equal('uuid' in statusToMesos(status, { withUuid: false }), false);
    });
  });

  it('writes offers with Mesos resources and allocation info', () => {
    const offer = offerToMesos({
      id: 'o1',
      frameworkId: 'fw',
      agentId: 'a1',
      hostname: 'h1',
      resources: { cpus: 2, mem: 1024, disk: 0, ports: [{ begin: 31000, end: 32000 }] },
      agentUrl: { ip: '127.0.0.1', port: 5051 },
      role: 'web',
    });
    assert.deepEqual(offer.id, { value: 'o1' });
    assert.deepEqual(offer.allocation_info, { role: 'web' });
    assert.deepEqual(offer.url, { scheme: 'http', address: { hostname: 'h1', ip: '127.0.0.1', port: 5051 }, path: '/' });
    assert.deepEqual(offer.resources[0], { name: 'cpus', type: 'SCALAR', scalar: { value: 2 }, role: '*', allocation_info: { role: 'web' } });
    assert.deepEqual(fromMesosResources(offer.resources, 'r'), { cpus: 2, mem: 1024, ports: [{ begin: 31000, end: 32000 }] });
    assert.deepEqual(offerToMesos({ id: 'o', frameworkId: 'f', agentId: 'a', hostname: 'h', resources: { cpus: 1, mem: 1 } }).allocation_info, { role: '*' });
  });

  it('reads decline filters as Mesos does', () => {
    assert.equal(refuseSeconds(undefined), 5);
    assert.equal(refuseSeconds({}), 5);
    assert.equal(refuseSeconds({ refuse_seconds: -3 }), 5);
    assert.equal(refuseSeconds({ refuse_seconds: 0 }), 0);
    assert.equal(refuseSeconds({ refuse_seconds: 60 }), 60);
    assert.equal(refuseSeconds({ refuse_seconds: 1e12 }), 365 * 24 * 3600);
  });

  it('writes MasterInfo with the uint32 ip Mesos uses', () => {
    const info = masterInfoToMesos(masterInfoFor({ id: 'm1', hostname: 'h', ip: '127.0.0.1', port: 5050, version: '0.1.0' }));
    assert.equal(info.ip, 16777343);
    assert.equal(info.pid, 'master@127.0.0.1:5050');
  });
});

describe('health checks and attributes', () => {
  it('carries health_check into the TaskInfo, and healthy out to the framework', () => {
    const info = taskInfoFromMesos(
      mesosTask({ health_check: { type: 'COMMAND', command: { value: 'test -f up', environment: { variables: [{ name: 'A', value: '1' }] } }, interval_seconds: 0.5, consecutive_failures: 0 } }),
      'fw-1',
      F,
    );
    assert.deepEqual(info.health_check, { type: 'COMMAND', command: { value: 'test -f up', environment: { variables: [{ name: 'A', value: '1' }] } }, interval_seconds: 0.5, consecutive_failures: 0 });
    const status: TaskStatus = { task_id: 't', state: 'TASK_RUNNING', source: 'SOURCE_EXECUTOR', timestamp: 1, uuid: randomUUID(), reason: 'REASON_TASK_HEALTH_CHECK_STATUS_UPDATED', healthy: true };
    assert.equal(statusToMesos(status).healthy, true);
    assert.equal(statusToMesos({ ...status, healthy: undefined } as TaskStatus).healthy, undefined);
  });

  it('puts agent attributes into offers as TEXT and SCALAR', () => {
    const offer = offerToMesos({ id: 'o', frameworkId: 'f', agentId: 'a', hostname: 'h', resources: { cpus: 1, mem: 1 }, attributes: { rack: 'r1', n: 2 } });
    assert.deepEqual(offer.attributes, [
      { name: 'rack', type: 'TEXT', text: { value: 'r1' } },
      { name: 'n', type: 'SCALAR', scalar: { value: 2 } },
    ]);
    assert.equal(offerToMesos({ id: 'o', frameworkId: 'f', agentId: 'a', hostname: 'h', resources: { cpus: 1, mem: 1 } }).attributes, undefined);
  });
});
