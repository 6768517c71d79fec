// The command executor on real processes and this host's real cgroups, v1 or v2 (v2 runs in the VM
// of scripts/cgroup2-vm/run.sh): each test gets its own cgroups root and sandbox, and removes every
// task, cgroup and file it made.
import assert from 'node:assert/strict';
import { access, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../common/index.js';
import type { Isolator } from '../../isolators/index.js';
import { ExecutorError } from '../errors.js';
import type { TaskConfig, TaskHandle } from '../executor.js';
import { CommandExecutor } from './command-executor.js';
import {
  assertInContainerCgroup,
  containerCgroupDirs,
  makeIsolator,
  makeSandbox,
  pidExists,
  readSandboxFile,
  removeCgroupsRoot,
  spawnerPids,
  removeSandbox,
  requireRealCgroups,
  taskConfig,
  testCgroupsRoot,
  waitFor,
  waitForOutput,
  type ConfigOptions,
  type RealCgroupVersion,
} from './test-support.js';

const MB = 1024 * 1024;

async function isZombie(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // The state follows the command name in parentheses, which may itself contain ')'.
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

describe('CommandExecutor on real cgroups (v1 or v2)', function () {
  this.timeout(30_000);

  let version: RealCgroupVersion;
  let cgroupsRoot: string;
  let isolator: Isolator;
  let executor: CommandExecutor;
  const sandboxes: string[] = [];
  const started: Array<{ executor: CommandExecutor; handle: TaskHandle }> = [];
  /** Every container a test asked for, started or not: cleaned even if a launch went wrong. */
  const containers: string[] = [];
  /** Executors a test made besides `executor`, closed after it. */
  const extraExecutors: CommandExecutor[] = [];

  beforeEach(async function () {
    version = await requireRealCgroups(this);
    cgroupsRoot = testCgroupsRoot();
    isolator = await makeIsolator(cgroupsRoot);
    assert.equal(isolator.name, `cgroups-${version}`);
    executor = await CommandExecutor.create({ isolator, logger: silentLogger });
  });

  afterEach(async function () {
    for (const { executor: owner, handle } of started.splice(0)) {
      await owner.destroyTask(handle).catch((err: unknown) => console.error('destroyTask failed', err));
    }
    // Their spawners go too: none may outlive the test.
    for (const owner of [executor, ...extraExecutors.splice(0)]) await owner?.close();
    assert.deepEqual(await spawnerPids(), [], 'a spawner process was left running');
    for (const containerId of containers.splice(0)) {
      await isolator.cleanup(containerId).catch((err: unknown) => console.error('cleanup failed', err));
    }
    if (cgroupsRoot) await removeCgroupsRoot(version, cgroupsRoot);
    for (const dir of sandboxes.splice(0)) await removeSandbox(dir);
  });

  async function config(options: Omit<ConfigOptions, 'sandboxDir'>): Promise<TaskConfig> {
    const sandboxDir = await makeSandbox();
    sandboxes.push(sandboxDir);
    const cfg = taskConfig({ ...options, sandboxDir });
    containers.push(cfg.containerId);
    return cfg;
  }

  async function start(cfg: TaskConfig, by: CommandExecutor = executor): Promise<TaskHandle> {
    const handle = await by.startTask(cfg);
    started.push({ executor: by, handle });
    return handle;
  }

  it('runs a shell command: exit 0, stdout in the sandbox', async () => {
    const handle = await start(await config({ command: { value: 'echo hello; echo oops >&2' } }));
    assert.equal(handle.kind, 'command');
    assert.ok(handle.pid && handle.pid > 0);
    const exit = await executor.waitTask(handle);
    assert.equal(exit.exitCode, 0);
    assert.equal(exit.signal, null);
    assert.equal(exit.oomKilled, false);
    assert.equal(await readSandboxFile(handle.sandboxDir, 'stdout'), 'hello\n');
    assert.equal(await readSandboxFile(handle.sandboxDir, 'stderr'), 'oops\n');
    // Memoized: a second wait answers the same.
    assert.deepEqual(await executor.waitTask(handle), exit);
  });

  it("reports a failing command's exit code", async () => {
    const handle = await start(await config({ command: { value: 'exit 3' } }));
    const exit = await executor.waitTask(handle);
    assert.equal(exit.exitCode, 3);
    assert.equal(exit.oomKilled, false);
  });

  it('runs argv without a shell (shell: false)', async () => {
    const handle = await start(
      await config({ command: { shell: false, value: 'printf', arguments: ['%s|%s\n', 'a b', '$HOME'] } }),
    );
    assert.equal((await executor.waitTask(handle)).exitCode, 0);
    // No shell: the space and the `$HOME` reach the program verbatim.
    assert.equal(await readSandboxFile(handle.sandboxDir, 'stdout'), 'a b|$HOME\n');
  });

  it('gives a task its ports as PORT0…, PORT and PORTS, in the order of its ranges', async () => {
    const cfg = await config({
      command: { value: 'echo "$PORT0 $PORT1 $PORT2 ${PORT3:-none} $PORT $PORTS"' },
      ports: [{ begin: 31005, end: 31006 }, { begin: 31000, end: 31000 }],
    });
    const handle = await start(cfg);
    assert.equal((await executor.waitTask(handle)).exitCode, 0);
    assert.equal(await readSandboxFile(handle.sandboxDir, 'stdout'), '31005 31006 31000 none 31005 31005,31006,31000\n');

    const without = await start(await config({ command: { value: 'echo "${PORT:-none} ${PORTS:-none} ${PORT0:-none}"' } }));
    assert.equal((await executor.waitTask(without)).exitCode, 0);
    assert.equal(await readSandboxFile(without.sandboxDir, 'stdout'), 'none none none\n');
  });

  it('gives the task a clean environment with its variables, the extra env and MESOS_SANDBOX', async () => {
    process.env.TESSERA_TEST_AGENT_SECRET = 'must-not-leak';
    try {
      const cfg = await config({
        command: {
          value: 'echo "V=$FOO E=$TESSERA_TASK_ID S=$MESOS_SANDBOX H=$HOME L=${TESSERA_TEST_AGENT_SECRET:-none}"; pwd',
          environment: { variables: [{ name: 'FOO', value: 'bar baz' }] },
        },
        env: { TESSERA_TASK_ID: 'task-42' },
      });
      const handle = await start(cfg);
      assert.equal((await executor.waitTask(handle)).exitCode, 0);
      const dir = cfg.sandboxDir;
      assert.equal(
        await readSandboxFile(dir, 'stdout'),
        `V=bar baz E=task-42 S=${dir} H=${dir} L=none\n${dir}\n`,
      );
    } finally {
      delete process.env.TESSERA_TEST_AGENT_SECRET;
    }
  });

  it('runs the task as command.user', async () => {
    const asNobody = await start(await config({ command: { value: 'id -u; touch mine', user: 'nobody' } }));
    assert.equal((await executor.waitTask(asNobody)).exitCode, 0);
    assert.equal(await readSandboxFile(asNobody.sandboxDir, 'stdout'), '65534\n');
    assert.equal((await stat(join(asNobody.sandboxDir, 'mine'))).uid, 65534);
  });

  it('fails the launch (LAUNCH_FAILED) for an unknown user or program, leaving no cgroup', async () => {
    const unknownUser = await config({ command: { value: 'true', user: 'no-such-user-tessera' } });
    await assert.rejects(start(unknownUser), (err: unknown) => {
      assert.ok(err instanceof ExecutorError);
      assert.equal(err.code, 'LAUNCH_FAILED');
      assert.match(err.message, /no-such-user-tessera/);
      return true;
    });
    assert.equal(await isolator.exists(unknownUser.containerId), false);

    const noProgram = await config({ command: { shell: false, value: 'no-such-program-tessera' } });
    await assert.rejects(start(noProgram), (err: unknown) => {
      assert.ok(err instanceof ExecutorError);
      assert.equal(err.code, 'LAUNCH_FAILED');
      return true;
    });
    assert.equal(await isolator.exists(noProgram.containerId), false);

    // A sandbox that does not exist: the spawn itself fails; the prepared cgroup is removed again.
    const noSandbox = { ...(await config({ command: { value: 'true' } })), sandboxDir: '/nonexistent/tessera-sandbox' };
    await assert.rejects(start(noSandbox), (err: unknown) => {
      assert.ok(err instanceof ExecutorError);
      assert.equal(err.code, 'LAUNCH_FAILED');
      assert.match(err.message, /ENOENT/);
      return true;
    });
    assert.equal(await isolator.exists(noSandbox.containerId), false);

    // Fails after the cgroup was prepared (stdout cannot be opened): the cgroup is removed again.
    const badStdout = await config({ command: { value: 'true' } });
    await mkdir(join(badStdout.sandboxDir, 'stdout'));
    await assert.rejects(start(badStdout), (err: unknown) => {
      assert.ok(err instanceof ExecutorError);
      assert.equal(err.code, 'LAUNCH_FAILED');
      // The spawner's own error, as the system gave it.
      assert.match(err.message, /EISDIR/);
      return true;
    });
    assert.equal(await isolator.exists(badStdout.containerId), false);
  });

  it('puts the task in its cgroup before it runs', async () => {
    const cfg = await config({ command: { value: 'cat /proc/self/cgroup' } });
    const handle = await start(cfg);
    assert.equal((await executor.waitTask(handle)).exitCode, 0);
    const procCgroup = await readSandboxFile(handle.sandboxDir, 'stdout');
    await assertInContainerCgroup(version, procCgroup, cgroupsRoot, cfg.containerId);
  });

  it('reports an OOM kill under a 64 MB limit (oomKilled)', async () => {
    const handle = await start(
      await config({
        command: { value: 'dd if=/dev/zero of=/dev/null bs=256M count=1' },
        limits: { memBytes: 64 * MB },
      }),
    );
    const exit = await executor.waitTask(handle);
    assert.equal(exit.oomKilled, true, JSON.stringify(exit));
    assert.notEqual(exit.exitCode, 0);
  });

  it('holds a busy loop to 0.5 CPU and reports throttling', async function () {
    const handle = await start(
      await config({ command: { value: 'while :; do :; done' }, limits: { cpus: 0.5 } }),
    );
    const cpuSecs = (s: { cpus_user_time_secs?: number; cpus_system_time_secs?: number }): number =>
      (s.cpus_user_time_secs ?? 0) + (s.cpus_system_time_secs ?? 0);
    // Start measuring once the loop has begun to use CPU.
    const first = await waitFor('the loop to use CPU', async () => {
      const s = await executor.taskStats(handle);
      return cpuSecs(s) > 0.05 ? s : undefined;
    });
    const t0 = Date.now();
    const last = await waitFor(
      '3 s of measurement',
      async () => (Date.now() - t0 >= 3000 ? executor.taskStats(handle) : undefined),
      10_000,
      250,
    );
    const elapsed = (Date.now() - t0) / 1000;
    const share = (cpuSecs(last) - cpuSecs(first)) / elapsed;
    console.log(`      cpu share under a 0.5 limit: ${share.toFixed(3)}`);
    assert.ok(Math.abs(share - 0.5) <= 0.1, `cpu share ${share} not within 0.5 ± 0.1`);
    assert.equal(last.cpus_limit, 0.5);
    assert.ok((last.cpus_nr_throttled ?? 0) > (first.cpus_nr_throttled ?? 0), 'nr_throttled did not grow');
    await executor.stopTask(handle, 1000);
  });

  it('contains a fork bomb under pids 64, and destroyTask leaves nothing', async () => {
    const cfg = await config({ command: { value: 'true' }, limits: { pids: 64 } });
    // The bomb goes off only inside its container's cgroup (its v1 lines or its v2 line end in it):
    // a broken isolation must fail this test, not take the machine down.
    // bash, not dash: dash gives up when fork fails, so its bomb burns out; bash retries and holds on.
    cfg.task.command = {
      value:
        `grep -q '/${cgroupsRoot}/${cfg.containerId}$' /proc/self/cgroup || { echo 'not in its cgroup'; exit 99; }; ` +
        "echo started; exec bash -c 'f() { f & f & wait; }; f'",
    };
    const handle = await start(cfg);
    const said = await waitFor('the first line on stdout', async () => {
      const out = await readSandboxFile(handle.sandboxDir, 'stdout');
      return out.includes('\n') ? out : undefined;
    });
    assert.equal(said, 'started\n');
    // Watch it for a while: it fills its pids limit and never goes beyond.
    const seen = new Set<number>();
    let max = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) {
      const pids = await isolator.processes(cfg.containerId);
      pids.forEach((p) => seen.add(p));
      max = Math.max(max, pids.length);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    console.log(`      fork bomb: at most ${max} processes at once`);
    assert.ok(max > 10, `the fork bomb did not run (max ${max})`);
    assert.ok(max <= 64, `${max} processes under pids.max 64`);

    const dirs = await containerCgroupDirs(version, cgroupsRoot, cfg.containerId);
    for (const dir of dirs) await access(dir); // the check below can fail: they exist now

    await executor.destroyTask(handle);
    assert.equal(await isolator.exists(cfg.containerId), false);
    assert.deepEqual(await isolator.processes(cfg.containerId), []);
    // Every process it made is gone (the orphans are reaped by init).
    await waitFor('the fork bomb processes to be reaped', async () =>
      [...seen].every((p) => !pidExists(p)) ? true : undefined,
    );
    // No cgroup directory named after the container is left (in any v1 hierarchy, or in v2).
    for (const dir of dirs) await assert.rejects(access(dir), `${dir} is left`);
  });

  it('stopTask: a task that traps TERM exits cleanly within the grace', async () => {
    const handle = await start(
      await config({
        command: { value: "trap 'echo bye > marker; exit 0' TERM; echo ready; while :; do sleep 0.1; done" },
      }),
    );
    await waitForOutput(handle.sandboxDir, 'ready');
    const t0 = Date.now();
    await executor.stopTask(handle, 5000);
    const took = Date.now() - t0;
    assert.ok(took < 5000, `stop took ${took} ms, beyond the grace`);
    assert.equal(await readFile(join(handle.sandboxDir, 'marker'), 'utf8'), 'bye\n');
    const exit = await executor.waitTask(handle);
    assert.equal(exit.exitCode, 0);
    assert.deepEqual(await isolator.processes(handle.containerId), []);
  });

  it('stopTask: a task that ignores TERM is SIGKILLed after the timeout', async () => {
    const handle = await start(
      await config({ command: { value: "trap '' TERM; echo ready; while :; do sleep 0.1; done" } }),
    );
    await waitForOutput(handle.sandboxDir, 'ready');
    const t0 = Date.now();
    await executor.stopTask(handle, 700);
    const took = Date.now() - t0;
    assert.ok(took >= 700, `stopped after ${took} ms, before the grace ended`);
    assert.ok(took < 5000, `stop took ${took} ms`);
    const exit = await executor.waitTask(handle);
    assert.equal(exit.signal, 'SIGKILL', JSON.stringify(exit));
    assert.equal(exit.exitCode, null);
    assert.deepEqual(await isolator.processes(handle.containerId), []);
    assert.equal(pidExists(handle.pid ?? 0), false);
  });

  it('recovers a running task with a fresh executor, which can stop and wait for it', async () => {
    const handle = await start(await config({ command: { value: 'echo ready; while :; do sleep 0.1; done' } }));
    await waitForOutput(handle.sandboxDir, 'ready');
    // "The agent restarts": a new isolator and executor, knowing only the checkpointed handle.
    const handleJson = JSON.parse(JSON.stringify(handle)) as TaskHandle;
    const executorB = await CommandExecutor.create({
      isolator: await makeIsolator(cgroupsRoot),
      logger: silentLogger,
      pollIntervalMs: 50,
    });
    assert.deepEqual(await executorB.recoverTask(handleJson), { running: true });
    assert.equal((await executorB.inspectTask(handleJson)).running, true);
    assert.ok(((await executorB.taskStats(handleJson)).processes ?? 0) >= 1);
    await executorB.stopTask(handleJson, 3000);
    const exit = await executorB.waitTask(handleJson);
    assert.equal(exit.signal, 'SIGTERM', JSON.stringify(exit));
    assert.equal((await executorB.inspectTask(handleJson)).running, false);
    await executorB.destroyTask(handleJson);
    assert.equal(await isolator.exists(handle.containerId), false);
  });

  it('learns the real exit code of a task that ended while no agent was watching', async () => {
    const handle = await start(await config({ command: { value: 'echo ready; exit 7' } }));
    // Executor A never waits; the task ends on its own.
    await waitFor('the task to end', async () =>
      (await isolator.processes(handle.containerId)).length === 0 && !pidExists(handle.pid ?? 0) ? true : undefined,
    );
    const executorB = await CommandExecutor.create({ isolator: await makeIsolator(cgroupsRoot), logger: silentLogger });
    const recovered = await executorB.recoverTask(JSON.parse(JSON.stringify(handle)) as TaskHandle);
    assert.equal(recovered.running, false);
    assert.ok(!recovered.running);
    assert.equal(recovered.exit.exitCode, 7);
    assert.equal(recovered.exit.oomKilled, false);
  });

  it('says the exit status is unknown when the task left none', async () => {
    const handle = await start(await config({ command: { value: 'exit 0' } }));
    await waitFor('the task to end', async () => (pidExists(handle.pid ?? 0) ? undefined : true));
    // As if the wrapper had been killed before it could write its status.
    await rm(join(handle.sandboxDir, '.tessera', 'exit_status'));
    const executorB = await CommandExecutor.create({ isolator, logger: silentLogger });
    const recovered = await executorB.recoverTask(handle);
    assert.ok(!recovered.running);
    assert.equal(recovered.exit.exitCode, null);
    assert.match(recovered.exit.message ?? '', /exit status unknown/);
  });

  it('follows a task by pid when its spawner is killed mid-run, and starts a new spawner for the next launch', async () => {
    const byPid = await CommandExecutor.create({ isolator, logger: silentLogger, pollIntervalMs: 50 });
    extraExecutors.push(byPid);
    const handle = await start(
      await config({ command: { value: 'echo ready; while [ ! -e go ]; do sleep 0.05; done; exit 7' } }),
      byPid,
    );
    await waitForOutput(handle.sandboxDir, 'ready');
    // Waited for before the spawner dies: the notification it was waiting on can no longer come.
    const exit = byPid.waitTask(handle);
    const [spawner, ...others] = await spawnerPids();
    assert.ok(spawner !== undefined && others.length === 0, 'expected one spawner');
    process.kill(spawner, 'SIGKILL');
    await waitFor('the spawner to die', async () => ((await spawnerPids()).length === 0 ? true : undefined));
    assert.equal(pidExists(handle.pid ?? 0), true, 'the task died with its spawner');
    await writeFile(join(handle.sandboxDir, 'go'), '');
    const result = await exit;
    assert.equal(result.exitCode, 7, JSON.stringify(result));
    assert.equal(result.signal, null);

    const next = await start(await config({ command: { value: 'exit 3' } }), byPid);
    assert.equal((await byPid.waitTask(next)).exitCode, 3);
    const [respawned] = await spawnerPids();
    assert.ok(respawned !== undefined && respawned !== spawner, 'no new spawner for the next launch');
  });

  it('warmUp() starts the spawner before any launch, and the first launch uses it', async () => {
    assert.deepEqual(await spawnerPids(), [], 'no spawner before warm-up');
    executor.warmUp();
    const [warm] = await waitFor('a spawner', async () => {
      const pids = await spawnerPids();
      return pids.length === 1 ? pids : undefined;
    });
    const handle = await start(await config({ command: { value: 'exit 0' } }));
    assert.equal((await executor.waitTask(handle)).exitCode, 0);
    assert.deepEqual(await spawnerPids(), [warm], 'the launch used the warmed-up spawner');
  });

  it('close() ends the spawner; running tasks live on and are followed by pid', async () => {
    const handle = await start(
      await config({ command: { value: 'echo ready; while [ ! -e go ]; do sleep 0.05; done; exit 5' } }),
    );
    await waitForOutput(handle.sandboxDir, 'ready');
    assert.equal((await spawnerPids()).length, 1);
    await executor.close();
    assert.deepEqual(await spawnerPids(), []);
    assert.equal(pidExists(handle.pid ?? 0), true, 'the task died with its spawner');
    assert.ok((await isolator.processes(handle.containerId)).length >= 1);
    assert.equal((await executor.inspectTask(handle)).running, true);
    await assert.rejects(start(await config({ command: { value: 'true' } })), (err: unknown) => {
      assert.ok(err instanceof ExecutorError);
      assert.equal(err.code, 'LAUNCH_FAILED');
      return true;
    });
    await writeFile(join(handle.sandboxDir, 'go'), '');
    assert.equal((await executor.waitTask(handle)).exitCode, 5);
  });

  describe('execTask', () => {
    const noAbort = new AbortController().signal;

    it("runs argv in the task's cgroup, sandbox and environment (plus its own), with exit code and output", async () => {
      const cfg = await config({
        command: { value: 'cat /proc/self/cgroup > task-cgroup; echo up; exec sleep 60', environment: { variables: [{ name: 'GREETING', value: 'hi' }] } },
        env: { TESSERA_TASK_ID: 'task-7' },
      });
      const handle = await start(cfg);
      await waitForOutput(handle.sandboxDir, 'up');
      const script = 'cat /proc/self/cgroup > exec-cgroup; echo "$GREETING $TESSERA_TASK_ID $EXTRA $PWD"; echo to-stderr >&2; exit 3';
      const result = await executor.execTask(handle, ['/bin/sh', '-c', script], { env: { EXTRA: 'x' }, timeoutMs: 5000, signal: noAbort });
      assert.deepEqual(result, { exitCode: 3, signal: null, output: `hi task-7 x ${cfg.sandboxDir}\nto-stderr\n` });
      const execCgroup = await readSandboxFile(handle.sandboxDir, 'exec-cgroup');
      await assertInContainerCgroup(version, execCgroup, cgroupsRoot, cfg.containerId);
      assert.equal(execCgroup, await readSandboxFile(handle.sandboxDir, 'task-cgroup'), 'the exec ran in the task cgroups');
      // Its output file is gone; the task's own output is untouched.
      assert.deepEqual((await readdir(join(handle.sandboxDir, '.tessera'))).filter((f) => f.startsWith('exec-')), []);
      assert.equal(await readSandboxFile(handle.sandboxDir, 'stdout'), 'up\n');
      // A long output comes back as its last 4 KiB.
      const long = await executor.execTask(handle, ['/bin/sh', '-c', 'seq 1 5000'], { timeoutMs: 5000, signal: noAbort });
      assert.equal(long.exitCode, 0);
      assert.equal(long.output.length, 4096);
      assert.ok(long.output.endsWith('4999\n5000\n'));
    });

    it('kills the command and what it forked at the timeout, and on abort', async () => {
      const handle = await start(await config({ command: { value: 'echo up; exec sleep 60' } }));
      await waitForOutput(handle.sandboxDir, 'up');
      const before = Date.now();
      const result = await executor.execTask(handle, ['/bin/sh', '-c', 'sleep 30 & echo $! > child-pid; echo $$ > exec-pid; wait'], {
        timeoutMs: 300,
        signal: noAbort,
      });
      assert.equal(result.signal, 'SIGKILL');
      assert.equal(result.exitCode, null);
      assert.ok(Date.now() - before < 5000);
      for (const file of ['exec-pid', 'child-pid']) {
        const pid = Number((await readSandboxFile(handle.sandboxDir, file)).trim());
        assert.ok(pid > 0);
        // Dead: gone, or a zombie (the forked child's reaper is this host's init, which takes its time).
        await waitFor(`${file} ${pid} dead`, async () => (pidExists(pid) && !(await isZombie(pid)) ? undefined : true), 5000);
      }
      const abort = new AbortController();
      const running = executor.execTask(handle, ['/bin/sh', '-c', 'echo started > aborted-started; exec sleep 30'], { timeoutMs: 20_000, signal: abort.signal });
      await waitFor('the exec to start', async () => (await readSandboxFile(handle.sandboxDir, 'aborted-started').catch(() => '')) || undefined, 5000);
      abort.abort();
      assert.equal((await running).signal, 'SIGKILL');
      // The task itself lives on.
      assert.equal((await executor.inspectTask(handle)).running, true);
    });

    it("a fresh executor (agent restart) runs it with the task's environment and user, read from /proc", async () => {
      const cfg = await config({ command: { value: 'echo up; exec sleep 60', user: 'nobody', environment: { variables: [{ name: 'GREETING', value: 'hi' }] } } });
      const handle = await start(cfg);
      await waitForOutput(handle.sandboxDir, 'up');
      const executorB = await CommandExecutor.create({ isolator: await makeIsolator(cgroupsRoot), logger: silentLogger });
      extraExecutors.push(executorB);
      const handleJson = JSON.parse(JSON.stringify(handle)) as TaskHandle;
      assert.deepEqual(await executorB.recoverTask(handleJson), { running: true });
      const result = await executorB.execTask(handleJson, ['/bin/sh', '-c', 'echo "$GREETING $(id -un) $MESOS_SANDBOX"; cat /proc/self/cgroup >&2'], { timeoutMs: 5000, signal: noAbort });
      assert.equal(result.exitCode, 0);
      const [first, ...cgroupLines] = result.output.split('\n');
      assert.equal(first, `hi nobody ${cfg.sandboxDir}`);
      await assertInContainerCgroup(version, `${cgroupLines.join('\n')}`, cgroupsRoot, cfg.containerId);
    });

    it('rejects (NOT_RUNNING) when the task has no cgroup any more', async () => {
      const handle = await start(await config({ command: { value: 'true' } }));
      await executor.waitTask(handle);
      await executor.destroyTask(handle);
      await assert.rejects(
        executor.execTask(handle, ['true'], { timeoutMs: 5000, signal: noAbort }),
        (err: unknown) => err instanceof ExecutorError && err.code === 'NOT_RUNNING',
      );
    });
  });

  it('measures the per-launch overhead of a no-op task', async () => {
    const runs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const cfg = await config({ command: { shell: false, value: '/bin/true' } });
      const t0 = process.hrtime.bigint();
      const handle = await executor.startTask(cfg);
      const exit = await executor.waitTask(handle);
      await executor.destroyTask(handle);
      runs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      assert.equal(exit.exitCode, 0);
    }
    runs.sort((a, b) => a - b);
    const p50 = runs[Math.floor(runs.length / 2)] ?? NaN;
    const p90 = runs[Math.floor(runs.length * 0.9)] ?? NaN;
    console.log(`      launch overhead (prepare→spawn→isolate→exit→cleanup): p50 ${p50.toFixed(1)} ms, p90 ${p90.toFixed(1)} ms`);
  });
});
