import assert from 'node:assert/strict';
import { ValidationError } from '../common/index.js';
import { parseAttributes } from './attributes.js';
import { parseHostname } from '../common/index.js';

describe('agent --attributes', () => {
  it('parses TEXT and SCALAR attributes', () => {
    assert.deepEqual(parseAttributes('rack:r1;zone:eu-1;ssd:true'), { rack: 'r1', zone: 'eu-1', ssd: 'true' });
    assert.deepEqual(parseAttributes(' gpus: 2 ; weight:0.5;neg:-3;ver:1.2.3;hex:0x10;'), { gpus: 2, weight: 0.5, neg: -3, ver: '1.2.3', hex: '0x10' });
    assert.deepEqual(parseAttributes(''), {});
    // Only the first colon separates: the value may hold more.
    assert.deepEqual(parseAttributes('url:http://x'), { url: 'http://x' });
  });

  for (const [spec, why] of [
    ['rack', /expected name:value/],
    [':r1', /name is empty/],
    ['rack:', /value is empty/],
    ['rack:r1;rack:r2', /given twice/],
    ['ports:[1-10]', /range and set attributes are not supported/],
    ['tags:{a,b}', /range and set attributes are not supported/],
    ['my rack:r1', /a name is/],
  ] as const) {
    it(`refuses '${spec}'`, () => {
      assert.throws(() => parseAttributes(spec), (err: unknown) => err instanceof ValidationError && why.test(err.message));
    });
  }
});

describe('agent --hostname', () => {
  it('accepts a name and refuses empty names and spaces', () => {
    assert.equal(parseHostname('agent-1.local'), 'agent-1.local');
    assert.throws(() => parseHostname('  '), /must not be empty/);
    assert.throws(() => parseHostname('two words'), /spaces/);
  });
});
