import assert from 'node:assert/strict';
import {
  addressFromPid,
  defaultTaskName,
  parseCgroupsRoot,
  parseDockerMode,
  parseDuration,
  parseGraceSeconds,
  parseInterval,
  parseIp,
  parseIsolation,
  parseMasterAddress,
  parseNonNegativeInteger,
  parsePort,
  parsePositiveInteger,
  parsePositiveNumber,
} from './args.js';
import { UsageError } from './errors.js';
import { joinCommand } from './shell-quote.js';

function assertUsage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => err instanceof UsageError && err.exitCode === 2 && pattern.test(err.message));
}

describe('cli args', () => {
  describe('parseDuration', () => {
    it('reads ms, s, m, h and plain seconds', () => {
      assert.equal(parseDuration('30s'), 30_000);
      assert.equal(parseDuration('500ms'), 500);
      assert.equal(parseDuration('2m'), 120_000);
      assert.equal(parseDuration('1h'), 3_600_000);
      assert.equal(parseDuration('30'), 30_000);
      assert.equal(parseDuration('1.5'), 1500);
      assert.equal(parseDuration(' 10S '), 10_000);
    });
    it('rejects what is not a duration', () => {
      for (const bad of ['', 's', '-5s', '5x', '5 s s', '1e3', 'abc', '5d']) {
        assertUsage(() => parseDuration(bad), /not a duration/);
      }
    });
    it('bounds the top interval and converts grace to seconds', () => {
      assertUsage(() => parseInterval('50ms'), /at least 100ms/);
      assert.equal(parseInterval('2s'), 2000);
      assert.equal(parseGraceSeconds('10'), 10);
      assert.equal(parseGraceSeconds('500ms'), 0.5);
    });
  });

  describe('parseMasterAddress', () => {
    it('accepts host:port, http://host:port, a bare host and IPv6', () => {
      assert.deepEqual(parseMasterAddress('10.0.0.5:5050'), {
        host: '10.0.0.5',
        port: 5050,
        hostPort: '10.0.0.5:5050',
        url: 'http://10.0.0.5:5050',
      });
      assert.equal(parseMasterAddress('http://master.local:6060/').url, 'http://master.local:6060');
      assert.equal(parseMasterAddress('http://127.0.0.1:80').port, 80);
      assert.equal(parseMasterAddress('master.local').hostPort, 'master.local:5050');
      assert.equal(parseMasterAddress('[::1]:5050').url, 'http://[::1]:5050');
      assert.equal(parseMasterAddress('[::1]:5050').host, '::1');
    });
    it('rejects other schemes, paths, bad ports and garbage, saying why', () => {
      assertUsage(() => parseMasterAddress('zk://h1:2181/tessera'), /ZooKeeper/);
      assertUsage(() => parseMasterAddress('https://h:5050'), /unsupported scheme/);
      assertUsage(() => parseMasterAddress('h:5050/api'), /path/);
      assertUsage(() => parseMasterAddress('h:0'), /port/);
      assertUsage(() => parseMasterAddress('h:99999'), /not a valid address|port/);
      assertUsage(() => parseMasterAddress(''), /empty/);
      assertUsage(() => parseMasterAddress('a b:5050'), /not a valid address/);
    });
    it('reads an agent address from its pid', () => {
      assert.equal(addressFromPid('slave(1)@10.1.2.3:5051')?.url, 'http://10.1.2.3:5051');
      assert.equal(addressFromPid('nonsense'), undefined);
    });
  });

  describe('numbers and choices', () => {
    it('parses good values', () => {
      assert.equal(parsePort('0'), 0);
      assert.equal(parsePort('5050'), 5050);
      assert.equal(parsePositiveNumber('0.25'), 0.25);
      assert.equal(parsePositiveInteger('32'), 32);
      assert.equal(parseNonNegativeInteger('0'), 0);
      assert.equal(parseIsolation('CGROUPS'), 'cgroups');
      assert.equal(parseDockerMode('off'), 'off');
      assert.equal(parseIp('10.0.0.1'), '10.0.0.1');
      assert.equal(parseCgroupsRoot('/tessera/'), 'tessera');
    });
    it('rejects bad values with a message', () => {
      assertUsage(() => parsePort('65536'), /not a port/);
      assertUsage(() => parsePort('50.5'), /not a port/);
      assertUsage(() => parsePositiveNumber('0'), /greater than 0/);
      assertUsage(() => parsePositiveNumber('0x10'), /not a positive number/);
      assertUsage(() => parsePositiveNumber(''), /not a positive number/);
      assertUsage(() => parsePositiveNumber('Infinity'), /not a positive number/);
      assertUsage(() => parsePositiveInteger('1.5'), /whole number/);
      assertUsage(() => parseNonNegativeInteger('-1'), /not be negative/);
      assertUsage(() => parseIsolation('lxc'), /auto, cgroups, posix/);
      assertUsage(() => parseDockerMode('yes'), /auto, on, off/);
      assertUsage(() => parseIp('10.0.0'), /not an IP/);
      assertUsage(() => parseCgroupsRoot('../escape'), /cgroup name/);
    });
  });

  describe('task names and commands', () => {
    it('names a task after its image or its first word', () => {
      assert.equal(defaultTaskName('tessera-test/busybox:latest', []), 'busybox');
      assert.equal(defaultTaskName('registry:5000/team/app@sha256:abc', ['x']), 'app');
      assert.equal(defaultTaskName(undefined, ['/bin/sleep', '5']), 'sleep');
      assert.equal(defaultTaskName(undefined, ['echo hello && ls']), 'echo');
      assert.equal(defaultTaskName(undefined, ['(exit', '3)']), 'exit');
      assert.equal(defaultTaskName(undefined, ['!!!']), 'task');
    });
    it('quotes words when several are given, keeps one as a shell string', () => {
      assert.equal(joinCommand(['echo', 'hello']), 'echo hello');
      assert.equal(joinCommand(['sh', '-c', 'exit 3']), "sh -c 'exit 3'");
      assert.equal(joinCommand(['echo', "it's"]), `echo 'it'\\''s'`);
      assert.equal(joinCommand(['echo hi && exit 3']), 'echo hi && exit 3');
      assert.equal(joinCommand(['printf', '']), "printf ''");
    });
  });
});

describe('master scheduling flags', () => {
  it('parses --roles and --weights, refusing bad ones', async () => {
    const { parseRoles, parseWeights } = await import('./commands/master.js');
    assert.deepEqual(parseRoles('web, batch'), ['web', 'batch']);
    assert.throws(() => parseRoles(' , '), /at least one role/);
    assert.throws(() => parseRoles('a b'), /not a valid role/);
    assert.deepEqual(parseWeights('web=2,batch=0.5'), { web: 2, batch: 0.5 });
    assert.throws(() => parseWeights('web=0'), /weight > 0/);
    assert.throws(() => parseWeights('web'), /role=weight/);
  });
});
