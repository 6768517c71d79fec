// The v2 isolator on a real cgroups v2 kernel. This host is v1 (hybrid), so these run inside the
// QEMU VM of scripts/cgroup2-vm/run.sh (npm run test:cgroup2), which sets TESSERA_REQUIRE_CGROUP2=1:
// there a missing v2 hierarchy fails instead of skipping.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../common/index.js';
import { parseFlatKeyed } from '../cgroup-files.js';
import { IsolatorError } from '../errors.js';
import { Cgroups2Isolator } from './index.js';
import { waitUntil } from '../wait-until.js';

const MB = 2 ** 20;
const MOUNT = '/sys/fs/cgroup';

/** Why the real v2 tests cannot run here, or undefined when they can. */
async function whyNoCgroup2(): Promise<string | undefined> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const v2AtMount = mountinfo
    .split('\n')
    .some((line) => line.split(' ')[4] === MOUNT && line.split(' - ')[1]?.startsWith('cgroup2 '));
  if (!v2AtMount) return `${MOUNT} is not a cgroup2 mount (cgroups v1 or hybrid host; run npm run test:cgroup2)`;
  const own = (await readFile('/proc/self/cgroup', 'utf8')).match(/^0::(.*)$/m)?.[1] ?? '/';
  const controllers = (await readFile(join(MOUNT, own, 'cgroup.controllers'), 'utf8')).split(/\s+/);
  const missing = ['cpu', 'memory', 'pids'].filter((c) => !controllers.includes(c));
  if (missing.length > 0) return `controllers ${missing.join(', ')} are not available in ${join(MOUNT, own)}`;
  return undefined;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A shell that waits for one line on stdin before running `script`, so it can be isolated first. */
function gatedShell(script: string): { child: ChildProcess; exited: Promise<Exit>; release(): void } {
  const child = spawn('sh', ['-c', `read go; ${script}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, exited, release: () => child.stdin?.end('go\n') };
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function childCgroups(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
}

describe('Cgroups2Isolator on a real cgroups v2 kernel', function () {
  this.timeout(30_000);
  const cgroupsRoot = `tessera-test-${process.pid}`;
  let isolator: Cgroups2Isolator;
  const children: ChildProcess[] = [];
  const containers = new Set<string>();

  before(async function () {
    const reason = await whyNoCgroup2();
    if (reason !== undefined) {
      if (process.env.TESSERA_REQUIRE_CGROUP2 === '1') throw new Error(`TESSERA_REQUIRE_CGROUP2=1 but ${reason}`);
      console.log(`    skipping real cgroups v2 tests: ${reason}`);
      this.skip();
    }
    isolator = await Cgroups2Isolator.create({ cgroupsRoot, logger: silentLogger });
  });

  after(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (!isolator) return;
    for (const id of containers) await isolator.cleanup(id);
    assert.deepEqual(await childCgroups(isolator.rootDir), [], 'cleanup left cgroups behind');
    await rmdir(isolator.rootDir);
  });

  async function prepared(id: string, limits: Parameters<Cgroups2Isolator['prepare']>[1]): Promise<string> {
    containers.add(id);
    await isolator.prepare(id, limits);
    return isolator.containerCgroupDir(id);
  }

  function gated(script: string): ReturnType<typeof gatedShell> {
    const shell = gatedShell(script);
    children.push(shell.child);
    return shell;
  }

  it('puts the container cgroups beneath its own cgroup with the controllers enabled', async () => {
    const own = (await readFile('/proc/self/cgroup', 'utf8')).match(/^0::(.*)$/m)?.[1] ?? '/';
    assert.equal(isolator.rootDir, join(MOUNT, own, cgroupsRoot));
    assert.equal(isolator.dockerCgroupParent, join('/', own, cgroupsRoot, 'docker'));
    const dir = await prepared('limits', { cpus: 1.5, memBytes: 96 * MB, pids: 64 });
    const read = (file: string): Promise<string> => readFile(join(dir, file), 'utf8').then((s) => s.trim());
    assert.deepEqual((await read('cgroup.controllers')).split(' ').sort(), ['cpu', 'memory', 'pids']);
    assert.equal(await read('cpu.max'), '150000 100000');
    assert.equal(await read('cpu.weight'), '150');
    assert.equal(await read('memory.max'), String(96 * MB));
    assert.equal(await read('memory.oom.group'), '1');
    assert.equal(await read('pids.max'), '64');
    await isolator.update('limits', { cpus: 0.25, memBytes: 32 * MB });
    assert.equal(await read('cpu.max'), '25000 100000');
    assert.equal(await read('memory.max'), String(32 * MB));
    assert.equal(await read('pids.max'), 'max');
    await isolator.cleanup('limits');
    assert.equal(await isolator.exists('limits'), false);
    await isolator.cleanup('limits'); // idempotent
  });

  it('OOM-kills a process over its 64 MB limit, counts it and resolves watch()', async () => {
    await prepared('oom', { cpus: 1, memBytes: 64 * MB });
    const shell = gated('exec dd if=/dev/zero of=/dev/null bs=256M count=1');
    await isolator.isolate('oom', shell.child.pid ?? -1);
    assert.deepEqual(await isolator.processes('oom'), [shell.child.pid]);
    const watching = isolator.watch('oom');
    shell.release();

    const exit = await withDeadline(shell.exited, 15_000, 'the OOM kill');
    assert.equal(exit.signal, 'SIGKILL');
    const limitation = await withDeadline(watching, 5_000, 'watch()');
    assert.equal(limitation.reason, 'REASON_CONTAINER_LIMITATION_MEMORY');
    assert.equal(limitation.resource, 'mem');
    const usage = await isolator.usage('oom');
    assert.ok((usage.mem_oom_kills ?? 0) >= 1, `mem_oom_kills ${usage.mem_oom_kills}`);
    assert.equal(usage.mem_limit_bytes, 64 * MB);
    assert.ok((usage.mem_max_bytes ?? 0) > 32 * MB, `mem_max_bytes ${usage.mem_max_bytes}`);
    assert.ok((usage.mem_max_bytes ?? Infinity) <= 64 * MB, `mem_max_bytes ${usage.mem_max_bytes}`);
    assert.equal(usage.processes, 0);

    await isolator.cleanup('oom');
    assert.equal(await isolator.exists('oom'), false);
  });

  it('holds two busy loops to its 0.5 CPU quota and throttles them', async () => {
    await prepared('cpu', { cpus: 0.5, memBytes: 64 * MB });
    const shell = gated('while :; do :; done & while :; do :; done');
    await isolator.isolate('cpu', shell.child.pid ?? -1);
    shell.release();
    // Both loops running: the shell and its background child.
    assert.ok(await waitUntil(async () => (await isolator.processes('cpu')).length === 2, { timeoutMs: 5_000 }));

    const first = await isolator.usage('cpu');
    // A measuring window, not a wait for an event: sample until 2.5 s of wall time have passed.
    let last = first;
    await waitUntil(
      async () => {
        last = await isolator.usage('cpu');
        return last.timestamp - first.timestamp >= 2.5;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    const cpuSecs = (s: typeof first): number => (s.cpus_user_time_secs ?? 0) + (s.cpus_system_time_secs ?? 0);
    const ratio = (cpuSecs(last) - cpuSecs(first)) / (last.timestamp - first.timestamp);
    assert.equal(last.cpus_limit, 0.5);
    assert.ok(Math.abs(ratio - 0.5) <= 0.15, `CPU used ${ratio.toFixed(3)} cores under a 0.5 limit`);
    assert.ok((last.cpus_nr_throttled ?? 0) > (first.cpus_nr_throttled ?? 0), 'nr_throttled did not grow');
    assert.ok((last.cpus_throttled_time_secs ?? 0) > 0);

    await isolator.cleanup('cpu');
    assert.equal((await withDeadline(shell.exited, 5_000, 'the kill')).signal, 'SIGKILL');
  });

  it('contains a fork bomb with pids.max and cleans it up', async () => {
    const dir = await prepared('bomb', { cpus: 0.5, memBytes: 128 * MB, pids: 16 });
    const shell = gated('f() { f | f & }; f; wait');
    await isolator.isolate('bomb', shell.child.pid ?? -1);
    shell.release();

    const hitMax = async (): Promise<boolean> =>
      (parseFlatKeyed(await readFile(join(dir, 'pids.events'), 'utf8')).get('max') ?? 0) > 0;
    assert.ok(await waitUntil(hitMax, { timeoutMs: 15_000, intervalMs: 100 }), 'the bomb never reached pids.max');
    const usage = await isolator.usage('bomb');
    assert.ok((usage.processes ?? 0) <= 16, `${usage.processes} processes under pids.max 16`);
    assert.ok((await isolator.processes('bomb')).length <= 16);

    await isolator.cleanup('bomb');
    assert.equal(await isolator.exists('bomb'), false);
    await withDeadline(shell.exited, 5_000, 'the bomb shell exit');
  });

  it('kill() empties the cgroup but keeps it; watch() rejects CANCELLED on cleanup', async () => {
    await prepared('kill', { cpus: 1, memBytes: 64 * MB });
    const shell = gated('sleep 1000 & sleep 1000 & wait');
    await isolator.isolate('kill', shell.child.pid ?? -1);
    shell.release();
    assert.ok(await waitUntil(async () => (await isolator.processes('kill')).length === 3, { timeoutMs: 5_000 }));
    const watching = isolator.watch('kill');

    await isolator.kill('kill');
    assert.deepEqual(await isolator.processes('kill'), []);
    assert.equal(await isolator.exists('kill'), true);
    assert.equal((await withDeadline(shell.exited, 5_000, 'the kill')).signal, 'SIGKILL');

    await isolator.cleanup('kill');
    await assert.rejects(watching, (err: unknown) => err instanceof IsolatorError && err.code === 'CANCELLED');
    await assert.rejects(isolator.watch('kill'), { code: 'NOT_FOUND' });
    await assert.rejects(isolator.isolate('kill', process.pid), { code: 'NOT_FOUND' });
  });

  describe('when its own cgroup holds processes (the "no internal processes" rule)', () => {
    const busy = join(MOUNT, `tessera-busy-${process.pid}`);
    let homeDir = '';
    // The moves below need this process at the root, as in the VM.
    let atRoot = false;

    before(async () => {
      const own = (await readFile('/proc/self/cgroup', 'utf8')).match(/^0::(.*)$/m)?.[1] ?? '/';
      homeDir = join(MOUNT, own);
      atRoot = own === '/';
      if (!atRoot) return;
      await writeFile(join(MOUNT, 'cgroup.subtree_control'), '+cpu +memory +pids');
      await mkdir(busy);
      await writeFile(join(busy, 'cgroup.procs'), String(process.pid));
    });

    after(async () => {
      if (!atRoot) return;
      // Home again, then remove what the tests made (leaf cgroups first).
      await writeFile(join(homeDir, 'cgroup.procs'), String(process.pid));
      for (const name of await childCgroups(busy).catch(() => [])) await rmdir(join(busy, name)).catch(() => undefined);
      await rmdir(busy).catch(() => undefined);
    });

    it('refuses with a hint when other processes share the cgroup, and moves nothing', async function () {
      if (!atRoot) this.skip();
      const sleeper = spawn('sleep', ['1000'], { stdio: 'ignore' });
      children.push(sleeper);
      const sleeperExited = new Promise((resolve) => sleeper.once('exit', resolve));
      try {
        await assert.rejects(
          Cgroups2Isolator.create({ cgroupsRoot: 'inner', logger: silentLogger }),
          (err: unknown) =>
            err instanceof IsolatorError && err.code === 'CGROUP_SETUP_FAILED' && /--cgroups-root/.test(err.message),
        );
        assert.match(await readFile('/proc/self/cgroup', 'utf8'), new RegExp(`^0::/tessera-busy-${process.pid}$`, 'm'));
        assert.deepEqual(await childCgroups(busy), []);
      } finally {
        sleeper.kill('SIGKILL');
        await withDeadline(sleeperExited, 5_000, 'the sleeper exit');
      }
    });

    it('moves only this process into a leaf cgroup and then works', async function () {
      if (!atRoot) this.skip();
      const inner = await Cgroups2Isolator.create({ cgroupsRoot: 'inner', logger: silentLogger });
      assert.match(await readFile('/proc/self/cgroup', 'utf8'), new RegExp(`^0::/tessera-busy-${process.pid}/inner\\.agent$`, 'm'));
      assert.equal(inner.rootDir, join(busy, 'inner'));
      assert.equal(inner.dockerCgroupParent, `/tessera-busy-${process.pid}/inner/docker`);
      await inner.prepare('c', { cpus: 0.5, memBytes: 64 * MB });
      const shell = gatedShell('sleep 1000');
      children.push(shell.child);
      await inner.isolate('c', shell.child.pid ?? -1);
      assert.deepEqual(await inner.processes('c'), [shell.child.pid]);
      await inner.cleanup('c');
      assert.equal((await withDeadline(shell.exited, 5_000, 'the kill')).signal, 'SIGKILL');
      await rmdir(inner.rootDir);
    });
  });
});
