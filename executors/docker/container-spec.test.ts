// Pure mapping TaskConfig → container spec (no engine needed).
import assert from 'node:assert/strict';
import { buildContainerSpec, containerCmd, handleFromLabels, networkMode } from './container-spec.js';
import { taskConfig } from './test-support.js';

describe('container-spec', () => {
  it('maps command forms to Cmd', () => {
    assert.deepEqual(containerCmd({ value: 'echo $X' }), ['/bin/sh', '-c', 'echo $X']);
    assert.deepEqual(containerCmd({ shell: true, value: 'ls', arguments: ['ignored'] }), ['/bin/sh', '-c', 'ls']);
    assert.deepEqual(containerCmd({ shell: false, value: '/bin/echo', arguments: ['a', 'b c'] }), ['/bin/echo', 'a', 'b c']);
    assert.equal(containerCmd({ shell: false }), undefined);
    assert.equal(containerCmd(undefined), undefined);
  });

  it('maps networks, default bridge', () => {
    assert.equal(networkMode(undefined), 'bridge');
    assert.equal(networkMode('HOST'), 'host');
    assert.equal(networkMode('BRIDGE'), 'bridge');
    assert.equal(networkMode('NONE'), 'none');
  });

  it('builds env, labels and HostConfig from the task and its limits', () => {
    const cfg = taskConfig({
      agentId: 'agent-1',
      sandboxDir: '/tmp/sb',
      cpus: 1.5,
      memMb: 128,
      pids: 64,
      env: { TESSERA_TASK_ID: 't', MESOS_SANDBOX: '/wrong' },
      command: { value: 'true', environment: { variables: [{ name: 'A', value: '1' }] } },
      network: 'HOST',
    });
    const spec = buildContainerSpec(cfg, 'img:1', '/parent/docker');
    assert.equal(spec.name, `tessera-${cfg.containerId}`);
    assert.equal(spec.image, 'img:1');
    assert.deepEqual(spec.env.sort(), ['A=1', 'MESOS_SANDBOX=/mnt/mesos/sandbox', 'TESSERA_TASK_ID=t']);
    assert.deepEqual(spec.labels, {
      'tessera.agent_id': 'agent-1',
      'tessera.task_id': cfg.task.task_id,
      'tessera.container_id': cfg.containerId,
      'tessera.sandbox': '/tmp/sb',
    });
    assert.deepEqual(spec.hostConfig, {
      Memory: 128 * 1024 * 1024,
      MemorySwap: 128 * 1024 * 1024,
      NanoCpus: 1_500_000_000,
      CpuShares: 1536,
      PidsLimit: 64,
      CgroupParent: '/parent/docker',
      NetworkMode: 'host',
      Binds: ['/tmp/sb:/mnt/mesos/sandbox'],
    });
    const noParent = buildContainerSpec({ ...cfg, limits: { cpus: 0.001, memBytes: 1 << 20 } }, 'img', undefined);
    assert.equal('CgroupParent' in noParent.hostConfig, false);
    assert.equal('PidsLimit' in noParent.hostConfig, false);
    assert.equal(noParent.hostConfig.CpuShares, 2);
  });

  it('rebuilds a handle from labels, or nothing for foreign containers', () => {
    const cfg = taskConfig({ agentId: 'a', sandboxDir: '/sb' });
    const spec = buildContainerSpec(cfg, 'img', undefined);
    assert.deepEqual(handleFromLabels('abc', spec.labels, 5), {
      kind: 'docker',
      taskId: cfg.task.task_id,
      containerId: cfg.containerId,
      sandboxDir: '/sb',
      dockerId: 'abc',
      startedAt: 5,
    });
    assert.equal(handleFromLabels('abc', { 'tessera.agent_id': 'a' }, 5), undefined);
  });

  it("gives ports as PORT0…, PORT, PORTS, and publishes them to the same port only on a bridge network", () => {
    const ports = [{ begin: 31005, end: 31006 }, { begin: 31000, end: 31000 }];
    const bridge = buildContainerSpec(taskConfig({ agentId: 'a', sandboxDir: '/sb', network: 'BRIDGE', ports, env: { PORT: 'agent wins' } }), 'img', undefined);
    const env = Object.fromEntries(bridge.env.map((e) => e.split('=') as [string, string]));
    assert.deepEqual([env.PORT0, env.PORT1, env.PORT2, env.PORT3, env.PORTS], ['31005', '31006', '31000', undefined, '31005,31006,31000']);
    assert.equal(env.PORT, 'agent wins', "the executor's extra env still wins");
    assert.deepEqual(bridge.exposedPorts, { '31005/tcp': {}, '31006/tcp': {}, '31000/tcp': {} });
    assert.deepEqual(bridge.hostConfig.PortBindings?.['31006/tcp'], [{ HostIp: '', HostPort: '31006' }]);
    assert.equal(Object.keys(bridge.hostConfig.PortBindings ?? {}).length, 3);

    for (const network of ['HOST', 'NONE'] as const) {
      const spec = buildContainerSpec(taskConfig({ agentId: 'a', sandboxDir: '/sb', network, ports }), 'img', undefined);
      assert.ok(spec.env.includes('PORT=31005') && spec.env.includes('PORTS=31005,31006,31000'), network);
      assert.equal(spec.exposedPorts, undefined, network);
      assert.equal('PortBindings' in spec.hostConfig, false, network);
    }
    const none = buildContainerSpec(taskConfig({ agentId: 'a', sandboxDir: '/sb', network: 'BRIDGE' }), 'img', undefined);
    assert.equal(none.env.some((e) => e.startsWith('PORT')), false);
    assert.equal(none.exposedPorts, undefined);
  });
});
