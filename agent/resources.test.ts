import assert from 'node:assert/strict';
import { ValidationError } from '../common/index.js';
import { detectResources, offeredMemMb, parseResources } from './resources.js';

describe('agent resources', () => {
  it('parses "cpus:4;mem:8192"', () => {
    assert.deepEqual(parseResources('cpus:4;mem:8192'), { cpus: 4, mem: 8192 });
    assert.deepEqual(parseResources(' cpus: 0.5 ; mem:512;disk:1000;pids:64; '), { cpus: 0.5, mem: 512, disk: 1000, pids: 64 });
    assert.deepEqual(parseResources(''), {});
  });

  for (const [spec, part] of [
    ['cpus:four;mem:1', 'cpus:four'],
    ['cpus;mem:1', 'cpus'],
    ['gpus:1', 'gpus:1'],
    ['mem:-5', 'mem:-5'],
    ['cpus:1;cpus:2', 'cpus:2'],
    ['pids:20.5', 'pids:20.5'],
    ['mem:', 'mem:'],
  ] as const) {
    it(`rejects '${spec}' naming the part '${part}'`, () => {
      assert.throws(
        () => parseResources(spec),
        (err: unknown) => err instanceof ValidationError && err.message.includes(`'${part}'`),
      );
    });
  }

  it('offers total memory minus the reserve, never below a floor', () => {
    assert.equal(offeredMemMb(8192, 512), 7680);
    assert.equal(offeredMemMb(600, 512), 256);
    assert.equal(offeredMemMb(128, 512), 128);
  });

  it('detects cpus and memory, and overrides win', async () => {
    const detected = await detectResources({ reservedMemMb: 512 });
    assert.ok(detected.cpus >= 1);
    assert.ok(detected.mem >= 256);
    const overridden = await detectResources({ overrides: { cpus: 3, mem: 1000, pids: 100 } });
    assert.equal(overridden.cpus, 3);
    assert.equal(overridden.mem, 1000);
    assert.equal(overridden.pids, 100);
  });
});
