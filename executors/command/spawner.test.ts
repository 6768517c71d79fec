// The spawner process on its own, with real processes: requests and answers, the gate, exit
// notifications, errors as the system gives them, and what happens when the spawner or the agent
// dies. Every process a test starts is ended by pid in afterEach.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../common/index.js';
import { SpawnerError } from './errors.js';
import { signalQuietly } from './processes.js';
import { Spawner, type WrapperSpec } from './spawner.js';
import { makeSandbox, readSandboxFile, removeSandbox, waitFor } from './test-support.js';

/** True while `pid` runs (a zombie, which nobody reaped yet, has ended). */
async function running(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function processGroup(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

describe('Spawner (the process that starts wrappers for the command executor)', function () {
  this.timeout(20_000);

  let dir: string;
  const spawners: Spawner[] = [];
  /** Process groups a test started (wrappers are group leaders). */
  const groups: number[] = [];
  const pids: number[] = [];

  beforeEach(async () => {
    dir = await makeSandbox();
  });

  afterEach(async () => {
    for (const spawner of spawners.splice(0)) await spawner.close();
    for (const pgid of groups.splice(0)) signalQuietly(-pgid, 'SIGKILL');
    for (const pid of pids.splice(0)) signalQuietly(pid, 'SIGKILL');
    await removeSandbox(dir);
  });

  function startSpawner(): Spawner {
    const spawner = Spawner.start({ logger: silentLogger });
    spawners.push(spawner);
    return spawner;
  }

  function spec(script: string, overrides: Partial<WrapperSpec> = {}): WrapperSpec {
    return {
      file: '/bin/sh',
      args: ['-c', script],
      cwd: dir,
      env: { PATH: '/usr/bin:/bin' },
      stdoutPath: join(dir, 'stdout'),
      stderrPath: join(dir, 'stderr'),
      ...overrides,
    };
  }

  it('spawns a detached wrapper that waits on its gate, releases it, and reports its exit', async () => {
    const spawner = startSpawner();
    await writeFile(join(dir, 'stdout'), 'earlier\n');
    const wrapper = await spawner.spawn(
      spec('IFS= read -r line <&3 || exit 125; echo "got $line in $PWD as $FOO"; echo oops >&2; exit 4', {
        env: { PATH: '/usr/bin:/bin', FOO: 'bar' },
      }),
    );
    groups.push(wrapper.pid);
    assert.ok(wrapper.pid > 0);
    // Its own process group (and session): the agent signals the group, the spawner's is not it.
    assert.equal(await processGroup(wrapper.pid), wrapper.pid);
    assert.equal(await running(wrapper.pid), true);
    assert.equal(await readSandboxFile(dir, 'stdout'), 'earlier\n', 'ran before it was released');
    await wrapper.release();
    assert.deepEqual(await wrapper.exited, { kind: 'exited', code: 4, signal: null });
    // Appended, not truncated.
    assert.equal(await readSandboxFile(dir, 'stdout'), `earlier\ngot go in ${dir} as bar\n`);
    assert.equal(await readSandboxFile(dir, 'stderr'), 'oops\n');
  });

  it('reports a wrapper killed by a signal, and serves many requests at once', async () => {
    const spawner = startSpawner();
    const killed = await spawner.spawn(spec('read -r _ <&3; exec sleep 30'));
    groups.push(killed.pid);
    await killed.release();
    signalQuietly(-killed.pid, 'SIGKILL');
    assert.deepEqual(await killed.exited, { kind: 'exited', code: null, signal: 'SIGKILL' });

    const many = await Promise.all(
      Array.from({ length: 50 }, (_, i) => spawner.spawn(spec(`read -r _ <&3; exit ${i % 7}`))),
    );
    groups.push(...many.map((w) => w.pid));
    assert.equal(new Set(many.map((w) => w.pid)).size, 50);
    await Promise.all(many.map((w) => w.release()));
    const ends = await Promise.all(many.map((w) => w.exited));
    ends.forEach((end, i) => assert.deepEqual(end, { kind: 'exited', code: i % 7, signal: null }));
  });

  it('surfaces spawn errors as the system gives them, and keeps serving', async () => {
    const spawner = startSpawner();
    const cases: Array<[string, Partial<WrapperSpec>, string]> = [
      ['a missing working directory', { cwd: join(dir, 'missing') }, 'ENOENT'],
      ['a missing program', { file: join(dir, 'no-such-program') }, 'ENOENT'],
      ['a log file that cannot be opened', { stdoutPath: join(dir, 'missing', 'stdout') }, 'ENOENT'],
      ['a log file that is a directory', { stderrPath: dir }, 'EISDIR'],
    ];
    for (const [what, overrides, errno] of cases) {
      await assert.rejects(spawner.spawn(spec('exit 0', overrides)), (err: unknown) => {
        assert.ok(err instanceof SpawnerError, `${what}: ${String(err)}`);
        assert.equal(err.code, 'SPAWN_FAILED', what);
        assert.equal(err.errno, errno, what);
        assert.match(err.message, new RegExp(errno), what);
        return true;
      });
    }
    const ok = await spawner.spawn(spec('read -r _ <&3; exit 0'));
    groups.push(ok.pid);
    await ok.release();
    assert.deepEqual(await ok.exited, { kind: 'exited', code: 0, signal: null });
  });

  it('when killed: reports its wrappers lost (they live on), fails new requests, and unreleased ones run nothing', async () => {
    const spawner = startSpawner();
    const released = await spawner.spawn(spec('read -r _ <&3; while [ ! -e go ]; do sleep 0.05; done; echo done > out'));
    groups.push(released.pid);
    await released.release();
    const unreleased = await spawner.spawn(spec('read -r _ <&3 || exit 125; echo ran > unreleased'));
    groups.push(unreleased.pid);

    const spawnerPid = spawner.pid;
    assert.ok(spawnerPid !== undefined);
    process.kill(spawnerPid, 'SIGKILL');
    assert.deepEqual(await released.exited, { kind: 'lost' });
    assert.deepEqual(await unreleased.exited, { kind: 'lost' });
    assert.equal(spawner.alive, false);
    await assert.rejects(spawner.spawn(spec('exit 0')), (err: unknown) => {
      assert.ok(err instanceof SpawnerError);
      assert.equal(err.code, 'SPAWNER_ENDED');
      assert.equal(err.retryable, true);
      return true;
    });

    // The released wrapper goes on; the unreleased one saw its gate close and ran nothing.
    await waitFor('the unreleased wrapper to end', async () => ((await running(unreleased.pid)) ? undefined : true));
    assert.equal(await running(released.pid), true);
    await writeFile(join(dir, 'go'), '');
    await waitFor('the released wrapper to finish', async () => ((await running(released.pid)) ? undefined : true));
    assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'done\n');
    assert.equal(await readSandboxFile(dir, 'unreleased'), '');
  });

  it('exits when its agent dies, leaving the wrappers running', async () => {
    // An "agent": a separate Node process with a spawner and one released wrapper, then SIGKILLed.
    const spawnerModule = fileURLToPath(new URL('./spawner.js', import.meta.url));
    const commonModule = fileURLToPath(new URL('../../common/index.js', import.meta.url));
    const script = `
      const { Spawner } = await import(${JSON.stringify(spawnerModule)});
      const { silentLogger } = await import(${JSON.stringify(commonModule)});
      const spawner = Spawner.start({ logger: silentLogger });
      const hold = spawner.hold();
      const w = await spawner.spawn(${JSON.stringify(spec('read -r _ <&3; while [ ! -e go ]; do sleep 0.05; done; echo done > out'))});
      await w.release();
      console.log(JSON.stringify({ spawner: spawner.pid, wrapper: w.pid }));
      void hold;`;
    const agent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    assert.ok(agent.pid !== undefined);
    pids.push(agent.pid);
    let out = '';
    agent.stdout.setEncoding('utf8');
    agent.stdout.on('data', (chunk: string) => (out += chunk));
    const started = await waitFor('the agent to report its pids', async () =>
      out.includes('\n') ? (JSON.parse(out) as { spawner: number; wrapper: number }) : undefined,
    );
    // The spawner is not ours to kill: it must go by itself once its agent has (checked below).
    groups.push(started.wrapper);
    assert.equal(await running(started.spawner), true);

    const agentExit = new Promise((resolve) => agent.once('exit', resolve));
    agent.kill('SIGKILL');
    await agentExit;
    await waitFor('the spawner to exit', async () => ((await running(started.spawner)) ? undefined : true));
    assert.equal(await running(started.wrapper), true, 'the wrapper died with its spawner');
    await writeFile(join(dir, 'go'), '');
    await waitFor('the wrapper to finish', async () => ((await running(started.wrapper)) ? undefined : true));
    assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'done\n');
  });
});
