import assert from 'node:assert/strict';
import { ValidationError } from '../../common/index.js';
import { configChanged, normalizeAppId, parseAppDefinition } from './app-definition.js';

function fieldOf(body: unknown, idFromPath?: string): string | undefined {
  try {
    parseAppDefinition(body, idFromPath);
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err.field;
  }
  assert.fail('expected a ValidationError');
}

describe('services app definition', () => {
  it('fills in Marathon defaults', () => {
    const app = parseAppDefinition({ id: 'web', cmd: 'sleep 100' });
    assert.equal(app.id, '/web');
    assert.equal(app.cpus, 1);
    assert.equal(app.mem, 128);
    assert.equal(app.instances, 1);
    assert.deepEqual(app.portDefinitions, [{ port: 0, protocol: 'tcp' }]);
    assert.deepEqual(app.upgradeStrategy, { minimumHealthCapacity: 1, maximumOverCapacity: 1 });
    assert.equal(app.backoffFactor, 1.15);
  });

  it('accepts docker, ports, constraints and health checks', () => {
    const app = parseAppDefinition({
      id: '/group/web',
      container: { type: 'DOCKER', docker: { image: 'busybox' } },
      ports: [0, 0],
      constraints: [['hostname', 'UNIQUE'], ['rack', 'LIKE', 'r[12]']],
      healthChecks: [{ protocol: 'TCP', portIndex: 1, intervalSeconds: 2, timeoutSeconds: 1 }],
    });
    assert.equal(app.container?.docker.network, 'HOST');
    assert.equal(app.portDefinitions.length, 2);
    assert.deepEqual(app.constraints[0], { field: 'hostname', operator: 'UNIQUE' });
    assert.equal(app.healthChecks[0]?.maxConsecutiveFailures, 3);
  });

  it('names the field of every invalid definition', () => {
    assert.equal(fieldOf({ cmd: 'x' }), 'id');
    assert.equal(fieldOf({ id: 'Web!', cmd: 'x' }), 'id');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', instances: -1 }), 'instances');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', cpus: 0 }), 'cpus');
    assert.equal(fieldOf({ id: 'web' }), 'cmd');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', args: ['y'] }), 'args');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', bogus: 1 }), 'bogus');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', constraints: [['hostname', 'NEAR']] }), 'constraints[0][1]');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', constraints: [['rack', 'LIKE', '(']] }), 'constraints[0][2]');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', healthChecks: [{ protocol: 'SMTP' }] }), 'healthChecks[0].protocol');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', healthChecks: [{ protocol: 'COMMAND' }] }), 'healthChecks[0].command.value');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', healthChecks: [{ protocol: 'HTTP', command: { value: 'true' } }] }), 'healthChecks[0].command');
    const cmdCheck = { protocol: 'COMMAND', command: { value: 'true' } };
    assert.equal(fieldOf({ id: 'web', cmd: 'x', healthChecks: [cmdCheck, { protocol: 'TCP' }, { ...cmdCheck, protocol: 'MESOS_COMMAND' }] }), 'healthChecks[2]');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', healthChecks: [{ portIndex: 1 }] }), 'healthChecks[0].portIndex');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', healthChecks: [{ intervalSeconds: 0 }] }), 'healthChecks.0.intervalSeconds');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', upgradeStrategy: { minimumHealthCapacity: 1.5 } }), 'upgradeStrategy.minimumHealthCapacity');
    assert.equal(fieldOf({ id: 'web', cmd: 'x', upgradeStrategy: { minimumHealthCapacity: 1, maximumOverCapacity: 0 } }), 'upgradeStrategy');
    assert.equal(fieldOf({ id: 'web', container: { type: 'DOCKER', docker: {} } }), 'container.docker.image');
    assert.equal(fieldOf({ id: 'other', cmd: 'x' }, '/web'), 'id');
  });

  it('normalizes ids and tells a scale from a config change', () => {
    assert.equal(normalizeAppId('/a/b/'), '/a/b');
    const a = parseAppDefinition({ id: 'web', cmd: 'x', instances: 1 });
    assert.equal(configChanged(a, parseAppDefinition({ id: 'web', cmd: 'x', instances: 5 })), false);
    assert.equal(configChanged(a, parseAppDefinition({ id: 'web', cmd: 'y', instances: 1 })), true);
  });

  it('accepts one COMMAND (or MESOS_COMMAND) health check beside HTTP/TCP ones; it needs no port', () => {
    const app = parseAppDefinition({
      id: 'web',
      cmd: 'x',
      ports: [],
      healthChecks: [{ protocol: 'MESOS_COMMAND', command: { value: 'test -f /tmp/ok' }, gracePeriodSeconds: 5, intervalSeconds: 2, timeoutSeconds: 1, maxConsecutiveFailures: 2 }],
    });
    assert.deepEqual(app.healthChecks[0]?.command, { value: 'test -f /tmp/ok' });
    assert.equal(app.healthChecks[0]?.protocol, 'MESOS_COMMAND');
  });
});
