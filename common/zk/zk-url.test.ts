import assert from 'node:assert/strict';
import { ZkError } from './errors.js';
import { isZkUrl, parseZkUrl } from './zk-url.js';

function badUrl(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseZkUrl(text),
    (err: unknown) => err instanceof ZkError && err.code === 'BAD_ZK_URL' && pattern.test(err.message),
    `${text} should fail with ${pattern}`,
  );
}

describe('parseZkUrl', () => {
  it('parses hosts, default ports and the path', () => {
    const url = parseZkUrl('zk://h1:2182,h2/tessera');
    assert.deepEqual(url.servers, ['h1:2182', 'h2:2181']);
    assert.equal(url.path, '/tessera');
    assert.equal(url.credentials, undefined);
    assert.equal(url.redacted, 'zk://h1:2182,h2:2181/tessera');
  });

  it('takes percent-decoded credentials and hides the password in `redacted`', () => {
    const url = parseZkUrl('zk://us%40er:p%2Fa%3As@s@10.0.0.1:2181,10.0.0.2:2181/a/b/');
    assert.deepEqual(url.credentials, { user: 'us@er', password: 'p/a:s@s' });
    assert.equal(url.path, '/a/b');
    assert.equal(url.redacted, 'zk://us%40er:***@10.0.0.1:2181,10.0.0.2:2181/a/b');
    assert.ok(!url.redacted.includes('p%2Fa'));
  });

  it('accepts IPv6 addresses in brackets', () => {
    assert.deepEqual(parseZkUrl('zk://[::1]:2181,[fe80::1]/x').servers, ['[::1]:2181', '[fe80::1]:2181']);
  });

  it('says exactly what is wrong', () => {
    badUrl('', /empty/);
    badUrl('127.0.0.1:2181/x', /does not start with zk:\/\//);
    badUrl('http://h/x', /scheme must be zk:\/\/, not http:\/\//);
    badUrl('zk:///tessera', /no ZooKeeper host/);
    badUrl('zk://h1,,h2/x', /host in the comma-separated list is empty/);
    badUrl('zk://h:99999/x', /port in 'h:99999' must be a number from 1 to 65535/);
    badUrl('zk://h:abc/x', /port/);
    badUrl('zk://h:0/x', /port/);
    badUrl('zk://h:2181', /path is required/);
    badUrl('zk://h:2181/', /path is required/);
    badUrl('zk://h/a//b', /empty segment/);
    badUrl('zk://h/a/../b', /\.\./);
    badUrl('zk://h/x?y=1', /query/);
    badUrl('zk://::1:2181/x', /brackets/);
    badUrl('zk://[::1/x', /never closes/);
    badUrl('zk://ho st/x', /not a valid host name/);
    badUrl('zk://user@h/x', /user:password/);
    badUrl('zk://:pw@h/x', /user name/);
    badUrl('zk://h/zookeeper', /reserved/);
  });

  it('never shows the password in an error', () => {
    try {
      parseZkUrl('zk://admin:hunter2@h:notaport/x');
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof ZkError);
      assert.ok(!err.message.includes('hunter2'), err.message);
      assert.match(err.message, /admin:\*\*\*@/);
      assert.equal(err.retryable, false);
    }
  });

  it('names the flag when given', () => {
    assert.throws(() => parseZkUrl('zk://h', '--zk'), /^ZkError: --zk: invalid ZooKeeper URL/);
  });

  it('isZkUrl recognises the scheme', () => {
    assert.equal(isZkUrl('zk://h/x'), true);
    assert.equal(isZkUrl('ZK://h/x'), true);
    assert.equal(isZkUrl('h:5050'), false);
    assert.equal(isZkUrl('http://h:5050'), false);
  });
});
