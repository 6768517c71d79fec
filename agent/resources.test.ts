import assert from 'node:assert/strict';
import { ValidationError } from '../common/index.js';
import { stateResources } from './http/index.js';
import { detectResources, offeredMemMb, parsePortRanges, parseResources } from './resources.js';

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
    ['ports:[1-2];ports:[3-4]', 'ports:[3-4]'],
  ] as const) {
    it(`rejects '${spec}' naming the part '${part}'`, () => {
      assert.throws(
        () => parseResources(spec),
        (err: unknown) => err instanceof ValidationError && err.message.includes(`'${part}'`),
      );
    });
  }

  it("parses Mesos's port ranges: 'ports:[31000-32000,40000-40010]'", () => {
    assert.deepEqual(parseResources('cpus:2;ports:[31000-32000,40000-40010]'), {
      cpus: 2,
      ports: [
        { begin: 31000, end: 32000 },
        { begin: 40000, end: 40010 },
      ],
    });
    // Spaces, a lone port, out-of-order and adjacent ranges (joined), and none at all.
    assert.deepEqual(parsePortRanges('[ 9000 - 9001 , 8080, 9002-9005 ]'), [
      { begin: 8080, end: 8080 },
      { begin: 9000, end: 9005 },
    ]);
    assert.deepEqual(parseResources('ports:[]'), { ports: [] });
  });

  for (const [spec, why] of [
    ['ports:31000-32000', /expected ranges in brackets/],
    ['ports:[31000-32000', /expected ranges in brackets/],
    ['ports:[32000-31000]', /'32000-31000' ends before it begins/],
    ['ports:[0-10]', /'0-10' must lie within 1-65535/],
    ['ports:[65000-70000]', /'65000-70000' must lie within 1-65535/],
    ['ports:[a-b]', /'a-b' is not a port range/],
    ['ports:[1-5,,7]', /'' is not a port range/],
    ['ports:[1.5-3]', /'1.5-3' is not a port range/],
    ['ports:[100-200,150-300]', /'100-200' and '150-300' overlap/],
  ] as const) {
    it(`rejects '${spec}' with a clear message`, () => {
      assert.throws(
        () => parseResources(spec),
        (err: unknown) => err instanceof ValidationError && err.field === 'resources.ports' && why.test(err.message) && err.message.includes(`'${spec}'`),
      );
    });
  }

  it('offers the default ports unless told otherwise, and /state prints them as Mesos does', async () => {
    assert.deepEqual((await detectResources({ overrides: { cpus: 1, mem: 512 } })).ports, [{ begin: 31000, end: 32000 }]);
    const two = await detectResources({ overrides: { cpus: 1, mem: 512, ports: [{ begin: 40000, end: 40010 }, { begin: 5000, end: 5000 }] } });
    assert.deepEqual(two.ports, [{ begin: 5000, end: 5000 }, { begin: 40000, end: 40010 }]);
    assert.equal((await detectResources({ overrides: { cpus: 1, mem: 512, ports: [] } })).ports, undefined);
    assert.deepEqual(stateResources(two), { cpus: 1, mem: 512, ports: '[5000-5000, 40000-40010]' });
    assert.deepEqual(stateResources({ cpus: 1, mem: 64 }), { cpus: 1, mem: 64 });
  });

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
