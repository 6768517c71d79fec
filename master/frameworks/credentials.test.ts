import assert from 'node:assert/strict';
import { basicAuthenticator, parseCredentials } from './credentials.js';

const basic = (user: string, secret: string): string => `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;

describe('framework credentials', () => {
  it('reads the Mesos JSON form and the line form, and names what is wrong', () => {
    assert.deepEqual([...parseCredentials('{"credentials":[{"principal":"ops","secret":"s3"}]}', 'f.json')], [['ops', 's3']]);
    assert.deepEqual([...parseCredentials('ops s3\nweb pw\n', 'f.txt')], [['ops', 's3'], ['web', 'pw']]);
    assert.throws(() => parseCredentials('ops\n', 'f.txt'), { message: /f\.txt:1: expected 'principal secret'/ });
    assert.throws(() => parseCredentials('{"credentials":[{"principal":""}]}', 'f.json'), { message: /credentials\[0\]/ });
    assert.throws(() => parseCredentials('', 'f.txt'), { message: /holds no credentials/ });
  });

  it('authenticates HTTP Basic against them: the principal, or 401', () => {
    const authenticate = basicAuthenticator(new Map([['ops', 's3']]));
    assert.equal(authenticate(basic('ops', 's3')), 'ops');
    assert.throws(() => authenticate(undefined), { code: 'UNAUTHORIZED' });
    assert.throws(() => authenticate(basic('ops', 'nope')), { code: 'UNAUTHORIZED' });
    assert.throws(() => authenticate(basic('eve', 's3')), { code: 'UNAUTHORIZED' });
  });
});
