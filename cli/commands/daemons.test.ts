import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../testing/fake-http.js';

describe('tessera master / agent / up (flags, and a real master started and stopped)', () => {
  let workDir: string;

  before(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'tessera-cli-'));
  });
  after(async () => {
    await rm(workDir, { recursive: true, force: true });
  });

  it('rejects bad daemon flags with exit 2 and a clear message', async () => {
    const cases: [string[], RegExp][] = [
      [['master', '--agent-timeout', '5x'], /--agent-timeout.*'5x' is not a duration/],
      [['master', '--port', '70000'], /--port.*not a port/],
      [['agent', '--isolation', 'lxc'], /--isolation.*not one of auto, cgroups, posix/],
      [['up', '--docker', 'maybe'], /--docker.*not one of auto, on, off/],
      [['agent', '--master', 'zk://h:2181'], /zk:\/\/.*path/i],
      [['agent', '--resources', 'cpus:lots', '--port', '0', '--work-dir', '/nonexistent/never'], /--resources: .*'lots' is not a number/],
    ];
    for (const [args, pattern] of cases) {
      const result = await runCli(args);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
      assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
    }
  });

  it('runs a master until SIGTERM, then stops cleanly with exit 0', async () => {
    let signalled = false;
    const result = await runCli(['master', '--host', '127.0.0.1', '--port', '0', '--work-dir', workDir], {
      onStderr: (stderr, child) => {
        if (!signalled && /master listening on 127\.0\.0\.1:\d+/.test(stderr)) {
          signalled = true;
          child.kill('SIGTERM');
        }
      },
    });
    assert.ok(signalled, result.stderr);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /SIGTERM: stopping master/);
  });
});
