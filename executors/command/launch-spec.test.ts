// Pure parts of the command executor: argv and environment, exit-status decoding, passwd lookup.
import assert from 'node:assert/strict';
import { ExecutorError } from '../errors.js';
import { taskArgv, taskEnv } from './launch-spec.js';
import { parsePasswdEntry } from './users.js';
import { decodeShellStatus, wrapperArgv } from './wrapper.js';

describe('command launch spec', () => {
  it('runs value through /bin/sh -c unless shell is false', () => {
    assert.deepEqual(taskArgv({ value: 'echo $HOME', arguments: ['ignored'] }), ['/bin/sh', '-c', 'echo $HOME']);
    assert.deepEqual(taskArgv({ shell: false, value: '/bin/echo', arguments: ['a b', 'c'] }), ['/bin/echo', 'a b', 'c']);
    assert.throws(() => taskArgv({}), (err: unknown) => err instanceof ExecutorError && err.code === 'LAUNCH_FAILED');
    assert.throws(() => taskArgv(undefined), ExecutorError);
  });

  it('builds a clean environment with the right precedence', () => {
    const env = taskEnv({
      command: {
        value: 'x',
        environment: {
          variables: [
            { name: 'A', value: 'task' },
            { name: 'B', value: 'task' },
            { name: 'MESOS_SANDBOX', value: 'spoofed' },
          ],
        },
      },
      extra: { B: 'extra' },
      sandboxDir: '/sb',
      path: '/bin',
    });
    assert.deepEqual(env, { PATH: '/bin', HOME: '/sb', A: 'task', B: 'extra', MESOS_SANDBOX: '/sb' });
  });

  it('wraps the task argv after the exit-status file', () => {
    const argv = wrapperArgv('c1', '/sb', ['/bin/true']);
    assert.equal(argv[0], '/bin/sh');
    assert.equal(argv[1], '-c');
    assert.deepEqual(argv.slice(3), ['tessera-task:c1', '/sb/.tessera/exit_status', '/bin/true']);
  });

  it('decodes shell statuses', () => {
    assert.deepEqual(decodeShellStatus(0), { exitCode: 0, signal: null, oomKilled: false, message: 'exited with status 0' });
    assert.equal(decodeShellStatus(3).exitCode, 3);
    assert.equal(decodeShellStatus(128).exitCode, 128);
    assert.deepEqual(
      [decodeShellStatus(137).exitCode, decodeShellStatus(137).signal],
      [null, 'SIGKILL'],
    );
    assert.equal(decodeShellStatus(143).signal, 'SIGTERM');
    assert.equal(decodeShellStatus(255).exitCode, 255);
  });

  it('finds users in passwd text', () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';
    assert.deepEqual(parsePasswdEntry(passwd, 'nobody'), { uid: 65534, gid: 65534 });
    assert.deepEqual(parsePasswdEntry(passwd, 'root'), { uid: 0, gid: 0 });
    assert.equal(parsePasswdEntry(passwd, 'nob'), undefined);
    assert.equal(parsePasswdEntry('broken', 'broken'), undefined);
  });
});
