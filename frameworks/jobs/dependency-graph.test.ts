import assert from 'node:assert/strict';
import { ValidationError } from '../../common/index.js';
import { checkParents, childrenOf, findCycle } from './dependency-graph.js';

describe('dependency graph', () => {
  const graph = new Map<string, string[]>([['a', []], ['b', []], ['c', ['a', 'b']]]);

  it('accepts known parents', () => {
    checkParents(graph, 'd', ['c']);
    assert.deepEqual(childrenOf(graph, 'a'), ['c']);
  });

  it('rejects an unknown parent, naming it', () => {
    assert.throws(() => checkParents(graph, 'd', ['a', 'zz']), (e: unknown) => e instanceof ValidationError && e.field === 'parents[1]' && /zz/.test(e.message));
  });

  it('rejects a cycle', () => {
    // a becomes a child of c, which depends on a.
    assert.throws(() => checkParents(graph, 'a', ['c']), (e: unknown) => e instanceof ValidationError && /cycle/.test(e.message));
    assert.deepEqual(findCycle(new Map([['x', ['y']], ['y', ['x']]])), ['x', 'y', 'x']);
    assert.equal(findCycle(graph), undefined);
  });
});
