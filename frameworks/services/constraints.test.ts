import assert from 'node:assert/strict';
import { parseAppDefinition } from './app-definition.js';
import { satisfies, type Placement } from './constraints.js';

const at = (rack: string, hostname = `h-${rack}`): Placement => ({ hostname, attributes: { rack } });
const groupBy = (count?: string) => {
  const def = parseAppDefinition({ id: 'x', cmd: 'x', constraints: [count === undefined ? ['rack', 'GROUP_BY'] : ['rack', 'GROUP_BY', count]] });
  const c = def.constraints[0];
  assert.ok(c);
  return c;
};

describe('services constraints: GROUP_BY', () => {
  it('parses with and without a count; refuses a bad count naming the field', () => {
    assert.deepEqual(groupBy(), { field: 'rack', operator: 'GROUP_BY' });
    assert.deepEqual(groupBy('3'), { field: 'rack', operator: 'GROUP_BY', value: '3' });
    assert.throws(() => groupBy('zero'), (err: unknown) => (err as { field?: string }).field === 'constraints[0][2]');
  });

  it('takes a new value always, a used one only while it is among the least used', () => {
    const c = groupBy();
    assert.equal(satisfies(c, at('r1'), []), true);
    assert.equal(satisfies(c, at('r2'), [at('r1')]), true);
    // r1 has 2, r2 has 1: r1 must wait for r2.
    assert.equal(satisfies(c, at('r1'), [at('r1'), at('r1'), at('r2')]), false);
    assert.equal(satisfies(c, at('r2'), [at('r1'), at('r1'), at('r2')]), true);
    // Evenly used: either.
    assert.equal(satisfies(c, at('r1'), [at('r1'), at('r2')]), true);
    // No value for the field: no group to put it in.
    assert.equal(satisfies(c, { hostname: 'h', attributes: {} }, []), false);
  });

  it('with a count (or more values seen in offers) a used value waits until that many values are in use', () => {
    const three = groupBy('3');
    assert.equal(satisfies(three, at('r1'), [at('r1'), at('r2')]), false, 'r3 must get one first');
    assert.equal(satisfies(three, at('r3'), [at('r1'), at('r2')]), true);
    assert.equal(satisfies(three, at('r1'), [at('r1'), at('r2'), at('r3')]), true);
    const plain = groupBy();
    assert.equal(satisfies(plain, at('r1'), [at('r1')], { valuesSeen: () => 2 }), false, 'r2 was offered: it gets one first');
    assert.equal(satisfies(plain, at('r1'), [at('r1')], { valuesSeen: () => 1 }), true);
  });

  it('groups by hostname too', () => {
    const c = parseAppDefinition({ id: 'x', cmd: 'x', constraints: [['hostname', 'GROUP_BY']] }).constraints[0];
    assert.ok(c);
    assert.equal(satisfies(c, at('r1', 'a'), [at('r1', 'a')], { valuesSeen: () => 2 }), false);
    assert.equal(satisfies(c, at('r1', 'b'), [at('r1', 'a')], { valuesSeen: () => 2 }), true);
  });
});
