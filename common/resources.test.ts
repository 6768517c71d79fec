import assert from 'node:assert/strict';
import {
  addResources,
  containsResources,
  fromMesosResources,
  intersectResources,
  normalizeRanges,
  portList,
  subtractRanges,
  subtractResources,
  takePorts,
  toMesosResources,
} from './resources.js';

describe('resources', () => {
  it('merges, subtracts and takes port ranges', () => {
    assert.deepEqual(normalizeRanges([{ begin: 5, end: 9 }, { begin: 1, end: 3 }, { begin: 4, end: 4 }]), [{ begin: 1, end: 9 }]);
    assert.deepEqual(subtractRanges([{ begin: 31000, end: 32000 }], [{ begin: 31000, end: 31001 }, { begin: 31500, end: 31500 }]), [
      { begin: 31002, end: 31499 },
      { begin: 31501, end: 32000 },
    ]);
    assert.deepEqual(takePorts([{ begin: 10, end: 11 }, { begin: 20, end: 30 }], 3), [{ begin: 10, end: 11 }, { begin: 20, end: 20 }]);
    assert.deepEqual(portList([{ begin: 20, end: 21 }, { begin: 10, end: 10 }]), [10, 20, 21]);
  });

  it('adds, subtracts and compares in fixed point, ports included', () => {
    const agent = { cpus: 0.3, mem: 1024, disk: 100, ports: [{ begin: 31000, end: 31009 }] };
    const task = { cpus: 0.1, mem: 512, ports: [{ begin: 31000, end: 31000 }] };
    const twice = addResources(task, { cpus: 0.2, mem: 512 });
    assert.equal(twice.cpus, 0.3);
    assert.ok(containsResources(agent, twice), '0.1 + 0.2 fits into 0.3');
    const rest = subtractResources(agent, task);
    assert.deepEqual(rest, { cpus: 0.2, mem: 512, disk: 100, ports: [{ begin: 31001, end: 31009 }] });
    assert.ok(!containsResources(rest, task), 'port 31000 is gone');
    assert.ok(!containsResources({ cpus: 1, mem: 10 }, { cpus: 1.001, mem: 1 }));
    assert.deepEqual(intersectResources(agent, { cpus: 1, mem: 512, ports: [{ begin: 31005, end: 31020 }] }), {
      cpus: 0.3,
      mem: 512,
      disk: 0,
      ports: [{ begin: 31005, end: 31009 }],
    });
  });

  it('round-trips the Mesos JSON encoding and names the bad field', () => {
    const r = { cpus: 1.5, mem: 256, disk: 10, ports: [{ begin: 31000, end: 31002 }] };
    const mesos = toMesosResources(r, { role: '*' });
    assert.deepEqual(mesos[0], { name: 'cpus', type: 'SCALAR', scalar: { value: 1.5 }, role: '*' });
    assert.deepEqual(mesos[3], { name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 31000, end: 31002 }] }, role: '*' });
    assert.deepEqual(fromMesosResources(mesos, 'resources'), r);
    assert.throws(() => fromMesosResources([{ name: 'gpus', type: 'SCALAR', scalar: { value: 1 } }], 'task_infos[0].resources'), {
      message: /task_infos\[0\]\.resources\[0\]\.name: unsupported resource 'gpus'/,
    });
    assert.throws(() => fromMesosResources([{ name: 'cpus', type: 'SCALAR', scalar: { value: -1 } }], 'r'), { field: 'r[0].scalar.value' });
    assert.throws(() => fromMesosResources([{ name: 'ports', type: 'RANGES', ranges: { range: [{ begin: 9, end: 2 }] } }], 'r'), {
      field: 'r[0].ranges.range[0]',
    });
  });
});
