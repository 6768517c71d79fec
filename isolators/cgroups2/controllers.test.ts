import assert from 'node:assert/strict';
import { CONTROLLER_NAMES } from './controllers.js';
import { cpuWrites } from './cpu.js';
import { memoryWrites } from './memory.js';
import { pidsWrites } from './pids.js';

const MB = 2 ** 20;

describe('cgroups2 controller mappings', () => {
  it('cpu: quota per 100 ms period and a weight proportional to cpus', () => {
    assert.deepEqual(cpuWrites({ cpus: 0.5, memBytes: 64 * MB }), [
      { file: 'cpu.max', value: '50000 100000' },
      { file: 'cpu.weight', value: '50' },
    ]);
    assert.deepEqual(cpuWrites({ cpus: 2.25, memBytes: 64 * MB }), [
      { file: 'cpu.max', value: '225000 100000' },
      { file: 'cpu.weight', value: '225' },
    ]);
  });

  it('cpu: clamps the weight to 1..10000 and the quota to the kernel minimum', () => {
    const tiny = cpuWrites({ cpus: 0.001, memBytes: MB });
    assert.deepEqual(tiny, [
      { file: 'cpu.max', value: '1000 100000' },
      { file: 'cpu.weight', value: '1' },
    ]);
    assert.equal(cpuWrites({ cpus: 500, memBytes: MB })[1]?.value, '10000');
  });

  it('cpu: refuses zero, negative and non-finite cpus', () => {
    for (const cpus of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => cpuWrites({ cpus, memBytes: MB }), RangeError);
    }
  });

  it('memory: a hard limit, no swap, OOM kills the whole group', () => {
    assert.deepEqual(memoryWrites({ cpus: 1, memBytes: 64 * MB }), [
      { file: 'memory.max', value: String(64 * MB) },
      { file: 'memory.swap.max', value: '0', optional: true },
      { file: 'memory.oom.group', value: '1', optional: true },
    ]);
    assert.equal(memoryWrites({ cpus: 1, memBytes: 1000.7 })[0]?.value, '1000');
    assert.throws(() => memoryWrites({ cpus: 1, memBytes: 0 }), RangeError);
  });

  it('pids: the limit, or max when there is none', () => {
    assert.deepEqual(pidsWrites({ cpus: 1, memBytes: MB, pids: 100 }), [{ file: 'pids.max', value: '100' }]);
    assert.deepEqual(pidsWrites({ cpus: 1, memBytes: MB }), [{ file: 'pids.max', value: 'max' }]);
    assert.throws(() => pidsWrites({ cpus: 1, memBytes: MB, pids: 1.5 }), RangeError);
  });

  it('lists every controller the isolator enables', () => {
    assert.deepEqual([...CONTROLLER_NAMES].sort(), ['cpu', 'memory', 'pids']);
  });
});
