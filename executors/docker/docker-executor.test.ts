// The Docker executor against the real engine (/var/run/docker.sock) and the offline image
// tessera-test/busybox:latest. Skips with the reason printed when no engine answers, except in CI.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { errorMessage, silentLogger } from '../../common/index.js';
import { ExecutorError } from '../errors.js';
import type { TaskConfig, TaskHandle } from '../executor.js';
import { DockerodeClient } from './docker-client.js';
import { DockerExecutor } from './docker-executor.js';
import {
  fileExists,
  makeSandbox,
  makeTestCgroupParent,
  readIfExists,
  removeSandbox,
  taskConfig,
  TEST_IMAGE,
  waitFor,
  type TestCgroupParent,
} from './test-support.js';

/** Host-wide idle CPU seconds so far (all cores), from /proc/stat. */
async function hostIdleSecs(): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  return ((fields[3] ?? 0) + (fields[4] ?? 0)) / 100;
}

describe('DockerExecutor (real Docker engine)', function () {
  const agentId = `agent-test-${randomUUID().slice(0, 8)}`;
  const client = new DockerodeClient();
  const sandboxes: string[] = [];
  const executors: DockerExecutor[] = [];
  let cgroups: TestCgroupParent | undefined;
  let executor: DockerExecutor;

  before(async function () {
    try {
      await client.ping(2000);
    } catch (err) {
      if (process.env.CI === 'true') throw new Error(`no Docker engine in CI: ${errorMessage(err)}`, { cause: err });
      console.log(`    (skipping: no Docker engine answers at /var/run/docker.sock: ${errorMessage(err)})`);
      this.skip();
    }
    if (!(await client.inspectImage(TEST_IMAGE))) {
      const reason = `the offline image ${TEST_IMAGE} is not built`;
      if (process.env.CI === 'true') throw new Error(reason);
      console.log(`    (skipping: ${reason})`);
      this.skip();
    }
    cgroups = await makeTestCgroupParent();
    executor = await DockerExecutor.create({ logger: silentLogger, cgroupParent: cgroups.parent });
    executors.push(executor);
  });

  after(async function () {
    this.timeout(30_000);
    for (const e of executors) await e.close();
    // Every container this run made carries our agent id, also ones a failed test lost track of.
    const rows = await client.listContainers({ 'tessera.agent_id': agentId }).catch(() => []);
    await Promise.all(rows.map((row) => client.removeContainer(row.id)));
    for (const dir of sandboxes) await removeSandbox(dir);
    if (cgroups) {
      const leftovers = await cgroups.cleanup();
      assert.deepEqual(leftovers, [], 'cgroup directories left behind');
    }
  });

  async function sandbox(): Promise<string> {
    const dir = await makeSandbox();
    sandboxes.push(dir);
    return dir;
  }

  async function config(options: Omit<Parameters<typeof taskConfig>[0], 'agentId' | 'sandboxDir'>): Promise<TaskConfig> {
    return taskConfig({ agentId, sandboxDir: await sandbox(), ...options });
  }

  async function run(cfg: TaskConfig, on: DockerExecutor = executor) {
    const handle = await on.startTask(cfg);
    const exit = await on.waitTask(handle);
    const stdout = await readIfExists(path.join(cfg.sandboxDir, 'stdout'));
    const stderr = await readIfExists(path.join(cfg.sandboxDir, 'stderr'));
    await on.destroyTask(handle);
    return { handle, exit, stdout, stderr };
  }

  function cgroupFile(controller: string, handle: TaskHandle, file: string): string {
    assert.ok(cgroups && handle.dockerId);
    return path.join('/sys/fs/cgroup', controller, cgroups.parent, handle.dockerId, file);
  }

  it('runs a shell command, copies its output into the sandbox, and reports exit 0', async () => {
    const { exit, stdout, stderr } = await run(await config({ command: { value: 'echo hello; echo oops >&2' } }));
    assert.deepEqual(exit, { exitCode: 0, signal: null, oomKilled: false });
    assert.equal(stdout, 'hello\n');
    assert.equal(stderr, 'oops\n');
  });

  it('reports a failing exit code, and waitTask is memoized', async () => {
    const cfg = await config({ command: { value: 'exit 3' } });
    const handle = await executor.startTask(cfg);
    const [a, b] = await Promise.all([executor.waitTask(handle), executor.waitTask(handle)]);
    assert.equal(a.exitCode, 3);
    assert.equal(a.oomKilled, false);
    assert.equal(a, b);
    assert.equal(await executor.waitTask(handle), a);
    await executor.destroyTask(handle);
    await executor.destroyTask(handle); // idempotent
    assert.equal(await client.inspectContainer(handle.dockerId ?? ''), undefined);
  });

  it('passes task variables, executor env and MESOS_SANDBOX; runs argv without a shell', async () => {
    const shell = await run(
      await config({
        command: {
          value: 'echo "$FOO|$BAR|$MESOS_SANDBOX"; ls /mnt/mesos/sandbox',
          environment: { variables: [{ name: 'FOO', value: 'from task' }] },
        },
        env: { BAR: 'from agent' },
      }),
    );
    assert.equal(shell.exit.exitCode, 0);
    assert.match(shell.stdout, /^from task\|from agent\|\/mnt\/mesos\/sandbox\n/);
    assert.match(shell.stdout, /stdout/, 'the sandbox is mounted at /mnt/mesos/sandbox');

    const argv = await run(await config({ command: { shell: false, value: '/bin/echo', arguments: ['a b', '$FOO'] } }));
    assert.equal(argv.stdout, 'a b $FOO\n');

    // No command: the image's CMD (/bin/sh) with no stdin exits at once.
    const dflt = await run(await config({}));
    assert.equal(dflt.exit.exitCode, 0);
  });

  /** Host ports nothing listens on now (bound on loopback, then released), for publishing. */
  async function freePorts(count: number): Promise<number[]> {
    const servers = await Promise.all(
      Array.from({ length: count }, () => new Promise<Server>((resolve, reject) => {
        const server = createServer();
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve(server));
      })),
    );
    const ports = servers.map((server) => (server.address() as { port: number }).port);
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    return ports;
  }

  it('gives a task its ports as $PORT0… $PORT $PORTS on BRIDGE (published) and HOST networks', async () => {
    const [a, b, c] = await freePorts(3);
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    const ports = [{ begin: b, end: b }, { begin: a, end: a }, { begin: c, end: c }];
    const expected = `${b} ${a} ${c} ${b} ${b},${a},${c}\n`;
    for (const network of ['BRIDGE', 'HOST'] as const) {
      const { exit, stdout } = await run(await config({ network, ports, command: { value: 'echo $PORT0 $PORT1 $PORT2 $PORT $PORTS' } }));
      assert.equal(exit.exitCode, 0, network);
      assert.equal(stdout, expected, network);
    }
  });

  it('publishes a BRIDGE task\'s port to the same port inside, so a server on $PORT answers on the host', async function () {
    this.timeout(15_000);
    const [port] = await freePorts(1);
    assert.ok(port !== undefined);
    const cfg = await config({
      network: 'BRIDGE',
      ports: [{ begin: port, end: port }],
      command: { value: 'mkdir -p /www && echo "served on $PORT" > /www/index.html && exec httpd -f -p $PORT -h /www' },
    });
    const handle = await executor.startTask(cfg);
    try {
      const body = await waitFor(
        `http://127.0.0.1:${port}/ to answer`,
        async () => {
          const response = await fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
          return response?.ok ? await response.text() : undefined;
        },
        10_000,
      );
      assert.equal(body, `served on ${port}\n`);
    } finally {
      await executor.destroyTask(handle);
    }
  });

  it('execTask: docker exec in the container returns exit code, output and env; a timeout kills it', async function () {
    this.timeout(20_000);
    const cfg = await config({ network: 'BRIDGE', command: { value: 'echo started > /tmp/mark; exec sleep 60' } });
    const handle = await executor.startTask(cfg);
    const noAbort = new AbortController().signal;
    try {
      await waitFor('the container to run', async () => ((await client.inspectContainer(handle.dockerId ?? ''))?.running ? true : undefined));
      const result = await executor.execTask(handle, ['/bin/sh', '-c', 'cat /tmp/mark; echo "$CHECK" >&2; exit 4'], {
        env: { CHECK: 'inside' },
        timeoutMs: 5000,
        signal: noAbort,
      });
      assert.equal(result.exitCode, 4);
      assert.equal(result.signal, null);
      // stdout and stderr are separate pipes in the container: their order is not kept.
      assert.deepEqual(result.output.split('\n').sort(), ['', 'inside', 'started']);
      assert.equal((await executor.execTask(handle, ['true'], { timeoutMs: 5000, signal: noAbort })).exitCode, 0);
      const before = Date.now();
      const slow = await executor.execTask(handle, ['sleep', '30'], { timeoutMs: 300, signal: noAbort });
      assert.deepEqual(slow, { exitCode: null, signal: 'SIGKILL', output: '' });
      assert.ok(Date.now() - before < 5000);
      // Only the task's own sleep is left in the container.
      const ps = await executor.execTask(handle, ['ps', '-o', 'args'], { timeoutMs: 5000, signal: noAbort });
      assert.equal(ps.output.split('\n').filter((l) => l.trim() === 'sleep 30').length, 0, ps.output);
      // A bridge container has its own address.
      assert.match((await executor.taskAddress(handle)) ?? '', /^\d+\.\d+\.\d+\.\d+$/);
    } finally {
      await executor.destroyTask(handle);
    }
    await assert.rejects(
      executor.execTask(handle, ['true'], { timeoutMs: 5000, signal: noAbort }),
      (err: unknown) => err instanceof ExecutorError && err.code === 'NOT_RUNNING',
    );
  });

  it('reports an OOM kill by State.OOMKilled under a 64 MB limit', async () => {
    const { exit } = await run(
      await config({ memMb: 64, command: { value: 'dd if=/dev/zero of=/dev/null bs=256M count=1; echo after' } }),
    );
    assert.equal(exit.oomKilled, true, JSON.stringify(exit));
    assert.match(exit.message ?? '', /memory/);
  });

  it('puts the limits into the cgroup files beneath CgroupParent, and labels the container', async () => {
    const cfg = await config({ cpus: 0.5, memMb: 64, pids: 50, command: { value: 'sleep 30' } });
    const handle = await executor.startTask(cfg);
    try {
      const read = async (ctrl: string, file: string) => (await readFile(cgroupFile(ctrl, handle, file), 'utf8')).trim();
      assert.equal(await read('cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(await read('cpu', 'cpu.cfs_period_us'), '100000');
      assert.equal(await read('cpu', 'cpu.shares'), '512');
      assert.equal(await read('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
      assert.equal(await read('memory', 'memory.memsw.limit_in_bytes').catch(() => String(64 * 1024 * 1024)), String(64 * 1024 * 1024));
      assert.equal(await read('pids', 'pids.max'), '50');

      const info = await client.inspectContainer(handle.dockerId ?? '');
      assert.ok(info);
      assert.equal(info.cgroupParent, cgroups?.parent);
      assert.deepEqual(info.labels, {
        'tessera.agent_id': agentId,
        'tessera.task_id': cfg.task.task_id,
        'tessera.container_id': cfg.containerId,
        'tessera.sandbox': cfg.sandboxDir,
      });
      const inspection = await executor.inspectTask(handle);
      assert.equal(inspection.running, true);
      assert.ok((inspection.pid ?? 0) > 0);

      const stats = await executor.taskStats(handle);
      assert.equal(stats.cpus_limit, 0.5);
      assert.equal(stats.mem_limit_bytes, 64 * 1024 * 1024);
      assert.equal(stats.processes, 1);
      assert.equal(stats.mem_oom_kills, 0);
    } finally {
      await executor.destroyTask(handle);
    }
  });

  it('holds a busy loop to about 0.5 CPU (taskStats cpu time / elapsed)', async function () {
    this.timeout(20_000);
    const handle = await executor.startTask(await config({ cpus: 0.5, command: { value: 'while :; do :; done' } }));
    try {
      const cpu = (s: { cpus_user_time_secs?: number; cpus_system_time_secs?: number }) =>
        (s.cpus_user_time_secs ?? 0) + (s.cpus_system_time_secs ?? 0);
      const first = await executor.taskStats(handle);
      const idleBefore = await hostIdleSecs();
      // Measure over a ~3 s window (a measurement interval, not a wait for a condition).
      const last = await waitFor(
        '3 s of run time',
        async () => {
          const s = await executor.taskStats(handle);
          return s.timestamp - first.timestamp >= 3 ? s : undefined;
        },
        6000,
      );
      const elapsed = last.timestamp - first.timestamp;
      const ratio = (cpu(last) - cpu(first)) / elapsed;
      const hostIdle = ((await hostIdleSecs()) - idleBefore) / elapsed;
      console.log(`    busy loop at cpus=0.5 used ${ratio.toFixed(3)} CPU (host idle ${hostIdle.toFixed(2)} cores)`);
      assert.ok(ratio <= 0.6, `ratio ${ratio} above the 0.5 CPU limit`);
      if (hostIdle >= 0.25) {
        // Spare CPU existed, so only the quota can have held the loop back.
        assert.ok(ratio >= 0.4, `ratio ${ratio}`);
        assert.ok((last.cpus_nr_throttled ?? 0) > (first.cpus_nr_throttled ?? 0), 'throttled periods grow');
      } else {
        console.log('    (host saturated by other work: lower bound not checked)');
      }

      // The engine's one-shot stats (the fallback path) agree on the shape.
      const engine = await client.statsOnce(handle.dockerId ?? '');
      assert.ok(engine.cpuTotalNs / 1e9 >= cpu(first));
    } finally {
      await executor.stopTask(handle, 100);
      await executor.destroyTask(handle);
    }
  });

  it('fails fast with IMAGE_NOT_FOUND for an image that is not here and cannot be pulled', async () => {
    const progress: string[] = [];
    const e = await DockerExecutor.create({
      logger: silentLogger,
      onPullProgress: (_image, p) => progress.push(p.status),
    });
    const started = Date.now();
    await assert.rejects(
      e.startTask(await config({ image: 'tessera-test/does-not-exist:1', command: { value: 'true' } })),
      (err: unknown) =>
        err instanceof ExecutorError && err.code === 'IMAGE_NOT_FOUND' && err.message.includes('tessera-test/does-not-exist:1'),
    );
    assert.ok(Date.now() - started < 10_000, 'no hang');
  });

  it('throws DOCKER_UNAVAILABLE when no engine answers, within the ping deadline', async () => {
    await assert.rejects(
      DockerExecutor.create({ logger: silentLogger, socketPath: path.join(tmpdir(), `no-such-${randomUUID()}.sock`) }),
      (err: unknown) => err instanceof ExecutorError && err.code === 'DOCKER_UNAVAILABLE',
    );
    // A socket that accepts but never answers.
    const sock = path.join(tmpdir(), `mute-${randomUUID().slice(0, 8)}.sock`);
    const server: Server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      const started = Date.now();
      await assert.rejects(
        DockerExecutor.create({ logger: silentLogger, socketPath: sock, pingTimeoutMs: 300 }),
        (err: unknown) => err instanceof ExecutorError && err.code === 'DOCKER_UNAVAILABLE',
      );
      assert.ok(Date.now() - started < 2000);
    } finally {
      server.close();
    }
  });

  it('stops with a grace period: a TERM handler runs; a TERM-ignoring task is killed after the timeout', async function () {
    this.timeout(20_000);
    const gracefulCfg = await config({
      command: {
        value:
          "trap 'echo bye > $MESOS_SANDBOX/marker; exit 0' TERM; touch $MESOS_SANDBOX/ready; while :; do sleep 0.1; done",
      },
    });
    const stubbornCfg = await config({
      command: { value: "trap '' TERM; touch $MESOS_SANDBOX/ready; while :; do sleep 0.1; done" },
    });
    const graceful = await executor.startTask(gracefulCfg);
    const stubborn = await executor.startTask(stubbornCfg);
    try {
      for (const cfg of [gracefulCfg, stubbornCfg]) {
        await waitFor('trap installed', () => fileExists(path.join(cfg.sandboxDir, 'ready')));
      }
      let started = Date.now();
      await executor.stopTask(graceful, 5000);
      assert.ok(Date.now() - started < 3000, 'the TERM handler ended it before the timeout');
      assert.equal(await readFile(path.join(gracefulCfg.sandboxDir, 'marker'), 'utf8'), 'bye\n');
      assert.deepEqual(await executor.waitTask(graceful), { exitCode: 0, signal: null, oomKilled: false });

      started = Date.now();
      await executor.stopTask(stubborn, 500);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 450 && elapsed < 5000, `killed after the timeout (${elapsed} ms)`);
      const exit = await executor.waitTask(stubborn);
      assert.equal(exit.exitCode, 137);
      assert.equal(exit.signal, 'SIGKILL');
      assert.equal((await executor.inspectTask(stubborn)).running, false);
    } finally {
      await executor.destroyTask(graceful);
      await executor.destroyTask(stubborn);
    }
  });

  it('a new executor finds its containers by label and recovers running and exited ones', async function () {
    this.timeout(20_000);
    const a = await DockerExecutor.create({ logger: silentLogger, cgroupParent: cgroups?.parent });
    executors.push(a);
    const runningCfg = await config({
      command: {
        value: [
          'echo first',
          'until [ -f $MESOS_SANDBOX/go ]; do sleep 0.05; done',
          'echo during; touch $MESOS_SANDBOX/during-done',
          'until [ -f $MESOS_SANDBOX/go2 ]; do sleep 0.05; done',
          'echo after; sleep 30',
        ].join('; '),
      },
    });
    const exitedCfg = await config({ command: { value: 'echo bye; exit 7' } });
    const running = await a.startTask(runningCfg);
    const exited = await a.startTask(exitedCfg);
    const stdoutOf = (cfg: TaskConfig) => readIfExists(path.join(cfg.sandboxDir, 'stdout'));
    await waitFor('first line', async () => ((await stdoutOf(runningCfg)).includes('first') ? true : undefined));
    await waitFor('exit 7', async () => ((await client.inspectContainer(exited.dockerId ?? ''))?.running === false ? true : undefined));

    // "Agent down": A stops copying output; the task writes while nobody follows it.
    await a.close();
    await writeFile(path.join(runningCfg.sandboxDir, 'go'), '');
    await waitFor('output while down', () => fileExists(path.join(runningCfg.sandboxDir, 'during-done')));

    const b = await DockerExecutor.create({ logger: silentLogger, cgroupParent: cgroups?.parent });
    executors.push(b);
    const found = await b.findTasks(agentId);
    const byContainer = new Map(found.map((h) => [h.containerId, h]));
    for (const [cfg, h] of [
      [runningCfg, running],
      [exitedCfg, exited],
    ] as const) {
      const f = byContainer.get(cfg.containerId);
      assert.ok(f, `found ${cfg.containerId}`);
      assert.deepEqual(
        { ...f, startedAt: 0 },
        { kind: 'docker', taskId: cfg.task.task_id, containerId: cfg.containerId, sandboxDir: cfg.sandboxDir, dockerId: h.dockerId, startedAt: 0 },
      );
    }
    assert.deepEqual(await b.findTasks(`other-${agentId}`), []);

    assert.deepEqual(await b.recoverTask(byContainer.get(runningCfg.containerId) ?? running), { running: true });
    const recoveredExit = await b.recoverTask(exited);
    assert.equal(recoveredExit.running, false);
    assert.equal(recoveredExit.running === false && recoveredExit.exit.exitCode, 7);

    await writeFile(path.join(runningCfg.sandboxDir, 'go2'), '');
    await waitFor('output after recovery', async () => ((await stdoutOf(runningCfg)).includes('after') ? true : undefined));
    const out = await stdoutOf(runningCfg);
    const count = (word: string) => out.split('\n').filter((l) => l === word).length;
    assert.equal(count('during'), 1, out);
    assert.equal(count('after'), 1, out);
    // `since` has one-second resolution: at most the last second is replayed.
    assert.ok(count('first') >= 1 && count('first') <= 2, out);

    await b.stopTask(running, 200);
    assert.equal((await b.waitTask(running)).signal, 'SIGKILL');
    await b.destroyTask(running);
    await b.destroyTask(exited);
    assert.deepEqual(await b.recoverTask(exited), {
      running: false,
      exit: { exitCode: null, signal: null, oomKilled: false, message: 'container vanished while the agent was down' },
    });
  });

  it('measures start→exit→remove against `docker run --rm` (printed, not asserted)', async function () {
    this.timeout(60_000);
    const runs = 10;
    const p50 = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? NaN;
    const ours: number[] = [];
    const cfgs: TaskConfig[] = [];
    for (let i = 0; i < runs; i++) cfgs.push(await config({ command: { shell: false, value: 'true' } }));
    for (const cfg of cfgs) {
      const t = performance.now();
      const { exit } = await run(cfg);
      ours.push(performance.now() - t);
      assert.equal(exit.exitCode, 0);
    }
    const cli: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn('docker', ['run', '--rm', '--network', 'none', '--label', `tessera.agent_id=${agentId}`, TEST_IMAGE, 'true'], {
          stdio: 'ignore',
        });
        child.on('error', reject);
        child.on('exit', resolve);
      });
      cli.push(performance.now() - t);
      assert.equal(code, 0);
    }
    console.log(
      `    no-op container start→exit→remove p50: DockerExecutor ${p50(ours).toFixed(0)} ms, docker run --rm ${p50(cli).toFixed(0)} ms (${runs} runs each)`,
    );
  });
});
