// Real cgroups v1 on this host (root, hybrid). Each run uses its own cgroupsRoot and removes it after.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, readFile, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../../common/index.js';
import { detectCgroupVersion, readOwnCgroupPaths } from '../detect.js';
import { IsolatorError } from '../errors.js';
import type { Limitation } from '../isolator.js';
import { Cgroups1Isolator } from './cgroups1-isolator.js';

const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'] as const;
const MB = 2 ** 20;

interface Child {
  proc: ChildProcess;
  pid: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Lets the shell past its `read`: call after isolate() moved it. */
  go(): void;
}

function spawnWaiting(script: string, children: Child[]): Child {
  // The shell blocks on `read` until go(): only then does it run the workload, inside the cgroup.
  const proc = spawn('sh', ['-c', `read x; ${script}`], { stdio: ['pipe', 'ignore', 'ignore'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  if (proc.pid === undefined) throw new Error('spawn failed');
  const child: Child = { proc, pid: proc.pid, exited, go: () => proc.stdin?.write('go\n') };
  children.push(child);
  return child;
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Dead: gone, or a zombie its new parent (init) has not reaped yet. */
async function isDead(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return /\) [ZX] /.test(stat);
  } catch {
    return true;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]);
}

describe('Cgroups1Isolator (real cgroups v1)', function () {
  this.timeout(30_000);
  const cgroupsRoot = `tessera-test-${randomBytes(4).toString('hex')}`;
  const children: Child[] = [];
  const containers = new Set<string>();
  let isolator: Cgroups1Isolator;
  let own: Map<string, string>;

  const dirOf = (controller: string, containerId?: string): string =>
    join('/sys/fs/cgroup', controller, own.get(controller) ?? '/', cgroupsRoot, containerId ?? '');

  before(async function () {
    const version = await detectCgroupVersion();
    const root = process.getuid?.() === 0;
    if (version !== 'v1' || !root) {
      const reason = `needs root and cgroups v1 (uid ${process.getuid?.()}, detected ${version})`;
      if (process.env.CI === 'true') throw new Error(reason);
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    own = await readOwnCgroupPaths();
    isolator = await Cgroups1Isolator.create({ cgroupsRoot, logger: silentLogger });
  });

  after(async () => {
    for (const child of children) {
      if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
    }
    if (!isolator) return;
    for (const id of containers) await isolator.cleanup(id).catch((err) => console.error(err));
    for (const controller of CONTROLLERS) {
      await rmdir(dirOf(controller)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') console.error(err);
      });
    }
  });

  const newId = (name: string): string => {
    const id = `${name}-${randomBytes(3).toString('hex')}`;
    containers.add(id);
    return id;
  };

  it('makes the root beneath its own cgroup and a docker parent beneath every own path', async () => {
    for (const controller of CONTROLLERS) assert.ok(await exists(dirOf(controller)), controller);
    const longest = [...CONTROLLERS].map((c) => own.get(c) ?? '/').sort((a, b) => b.length - a.length)[0];
    assert.equal(isolator.dockerCgroupParent, join(longest ?? '/', cgroupsRoot, 'docker'));
    for (const controller of CONTROLLERS) {
      assert.ok(isolator.dockerCgroupParent.startsWith(own.get(controller) ?? '/'), controller);
    }
  });

  it('memory: a 256 MB allocation under 64 MB is OOM-killed, counted and watched', async () => {
    const id = newId('mem');
    await isolator.prepare(id, { cpus: 1, memBytes: 64 * MB });
    assert.equal((await readFile(join(dirOf('memory', id), 'memory.limit_in_bytes'), 'utf8')).trim(), String(64 * MB));
    assert.equal(
      (await readFile(join(dirOf('memory', id), 'memory.memsw.limit_in_bytes'), 'utf8')).trim(),
      String(64 * MB),
    );
    const watched = isolator.watch(id);
    const child = spawnWaiting('exec dd if=/dev/zero of=/dev/null bs=256M count=1', children);
    await isolator.isolate(id, child.pid);
    child.go();
    const exit = await withTimeout(child.exited, 10_000, 'dd exit');
    assert.equal(exit.signal, 'SIGKILL');
    const limitation: Limitation = await withTimeout(watched, 5_000, 'watch');
    assert.equal(limitation.resource, 'mem');
    assert.equal(limitation.reason, 'REASON_CONTAINER_LIMITATION_MEMORY');
    assert.match(limitation.message, /Memory limit exceeded/);
    const usage = await isolator.usage(id);
    assert.ok((usage.mem_oom_kills ?? 0) >= 1, `mem_oom_kills ${usage.mem_oom_kills}`);
    assert.equal(usage.mem_limit_bytes, 64 * MB);
    assert.ok((usage.mem_max_bytes ?? 0) > 32 * MB, `mem_max_bytes ${usage.mem_max_bytes}`);
    assert.ok(usage.mem_max_bytes! <= 64 * MB);
    await isolator.cleanup(id);
    assert.equal(await isolator.exists(id), false);
  });

  it('cpu: a busy loop is held to 0.5 CPU and throttled', async function () {
    const id = newId('cpu');
    await isolator.prepare(id, { cpus: 0.5, memBytes: 64 * MB });
    const child = spawnWaiting('while :; do :; done', children);
    await isolator.isolate(id, child.pid);
    child.go();
    const cpuSecs = (u: { cpus_user_time_secs?: number; cpus_system_time_secs?: number }): number =>
      (u.cpus_user_time_secs ?? 0) + (u.cpus_system_time_secs ?? 0);
    // Let the loop reach steady state, then measure over a 3 s window.
    await waitFor('the loop to use CPU', async () => ((cpuSecs(await isolator.usage(id)) > 0.1) ? true : undefined));
    const before = await isolator.usage(id);
    const start = process.hrtime.bigint();
    await waitFor('3 s of wall time', async () => (process.hrtime.bigint() - start >= 3_000_000_000n ? true : undefined));
    const after = await isolator.usage(id);
    const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
    const ratio = (cpuSecs(after) - cpuSecs(before)) / elapsed;
    console.log(`      cpu: ${ratio.toFixed(3)} CPU over ${elapsed.toFixed(2)} s, throttled ${before.cpus_nr_throttled} → ${after.cpus_nr_throttled}`);
    assert.equal(after.cpus_limit, 0.5);
    assert.ok(Math.abs(ratio - 0.5) <= 0.1, `ratio ${ratio}`);
    assert.ok((after.cpus_nr_throttled ?? 0) > (before.cpus_nr_throttled ?? 0), 'nr_throttled grows');
    assert.ok((after.cpus_throttled_time_secs ?? 0) > 0);
    assert.ok((after.cpus_nr_periods ?? 0) > 0);
    await isolator.cleanup(id);
    const exit = await withTimeout(child.exited, 5_000, 'loop exit');
    assert.equal(exit.signal, 'SIGKILL');
  });

  it('pids: a fork bomb stays within pids.max 32, then cleanup removes everything', async () => {
    const id = newId('pids');
    await isolator.prepare(id, { cpus: 0.5, memBytes: 128 * MB, pids: 32 });
    // A bomb that keeps what it made: endless background sleeps (a recursive `f|f&` bomb burns out
    // once forks fail, leaving nothing to contain).
    const child = spawnWaiting('while :; do sleep 1000 & done', children);
    await isolator.isolate(id, child.pid);
    child.go();
    const eventsFile = join(dirOf('pids', id), 'pids.events');
    await waitFor('pids.max to be hit', async () => {
      const usage = await isolator.usage(id);
      assert.ok((usage.processes ?? 0) <= 32, `processes ${usage.processes}`);
      const events = await readFile(eventsFile, 'utf8');
      return /^max [1-9]/m.test(events) ? true : undefined;
    });
    // Keep sampling a little: the bomb keeps trying and must stay contained.
    let peak = 0;
    const sampleUntil = Date.now() + 500;
    while (Date.now() < sampleUntil) {
      const usage = await isolator.usage(id);
      peak = Math.max(peak, usage.processes ?? 0);
      assert.ok((usage.processes ?? 0) <= 32, `processes ${usage.processes}`);
      assert.ok((await isolator.processes(id)).length <= 32);
    }
    console.log(`      pids: peak ${peak} tasks under pids.max 32`);
    const pids = await isolator.processes(id);
    assert.ok(pids.length > 1);
    await isolator.cleanup(id);
    for (const pid of pids) assert.ok(await isDead(pid), `pid ${pid} is dead`);
    for (const controller of CONTROLLERS) assert.equal(await exists(dirOf(controller, id)), false, controller);
    assert.equal(await isolator.exists(id), false);
  });

  it('kill() ends a process tree and keeps the cgroup; cleanup is idempotent', async () => {
    const id = newId('tree');
    await isolator.prepare(id, { cpus: 0.2, memBytes: 64 * MB, pids: 64 });
    assert.equal(await isolator.exists(id), true);
    assert.deepEqual(await isolator.processes(id), []);
    const child = spawnWaiting('sleep 1000 & sleep 1000 & (sleep 1000 & sleep 1000; :) & wait', children);
    await isolator.isolate(id, child.pid);
    child.go();
    const tree = await waitFor('the tree to start', async () => {
      const pids = await isolator.processes(id);
      return pids.length >= 5 ? pids : undefined;
    });
    assert.ok(tree.includes(child.pid));
    assert.equal((await isolator.usage(id)).processes, tree.length);
    await isolator.kill(id);
    assert.deepEqual(await isolator.processes(id), []);
    assert.equal(await isolator.exists(id), true);
    assert.equal((await withTimeout(child.exited, 5_000, 'shell exit')).signal, 'SIGKILL');
    for (const pid of tree) assert.ok(await isDead(pid), `pid ${pid} is dead`);
    const watched = isolator.watch(id);
    await isolator.cleanup(id);
    await assert.rejects(watched, (err: unknown) => err instanceof IsolatorError && err.code === 'CANCELLED');
    assert.equal(await isolator.exists(id), false);
    await isolator.cleanup(id);
    await isolator.kill(id);
    assert.deepEqual(await isolator.processes(id), []);
    await assert.rejects(isolator.usage(id), (err: unknown) => err instanceof IsolatorError && err.code === 'NOT_FOUND');
    await assert.rejects(isolator.isolate(id, child.pid), (err: unknown) => err instanceof IsolatorError && err.code === 'NOT_FOUND');
  });

  it('update() raises and lowers the memory limit (memsw kept equal) and the CPU quota', async () => {
    const id = newId('upd');
    await isolator.prepare(id, { cpus: 1, memBytes: 64 * MB });
    const read = async (controller: string, file: string): Promise<string> =>
      (await readFile(join(dirOf(controller, id), file), 'utf8')).trim();
    await isolator.update(id, { cpus: 1.5, memBytes: 256 * MB, pids: 100 });
    assert.equal(await read('memory', 'memory.limit_in_bytes'), String(256 * MB));
    assert.equal(await read('memory', 'memory.memsw.limit_in_bytes'), String(256 * MB));
    assert.equal(await read('cpu', 'cpu.cfs_quota_us'), '150000');
    assert.equal(await read('pids', 'pids.max'), '100');
    await isolator.update(id, { cpus: 0.25, memBytes: 32 * MB });
    assert.equal(await read('memory', 'memory.limit_in_bytes'), String(32 * MB));
    assert.equal(await read('memory', 'memory.memsw.limit_in_bytes'), String(32 * MB));
    assert.equal(await read('cpu', 'cpu.shares'), '256');
    assert.equal(await read('pids', 'pids.max'), 'max');
    await isolator.cleanup(id);
  });

  it('a failed prepare names every failing controller and removes what it made', async () => {
    const id = newId('bad');
    await assert.rejects(isolator.prepare(id, { cpus: Number.NaN, memBytes: Number.NaN, pids: Number.NaN }), (err: unknown) => {
      assert.ok(err instanceof IsolatorError);
      assert.equal(err.code, 'CGROUP_SETUP_FAILED');
      for (const controller of ['cpu', 'memory', 'pids']) assert.match(err.message, new RegExp(`\\b${controller}: `));
      return true;
    });
    assert.equal(await isolator.exists(id), false);
    for (const controller of CONTROLLERS) assert.equal(await exists(dirOf(controller, id)), false, controller);
  });

  it('measures prepare + isolate + cleanup', async () => {
    const id = newId('time');
    const child = spawnWaiting('sleep 1000', children);
    const start = process.hrtime.bigint();
    await isolator.prepare(id, { cpus: 0.5, memBytes: 64 * MB, pids: 32 });
    const prepared = process.hrtime.bigint();
    await isolator.isolate(id, child.pid);
    const isolated = process.hrtime.bigint();
    child.go();
    await isolator.cleanup(id);
    const done = process.hrtime.bigint();
    const ms = (a: bigint, b: bigint): string => (Number(b - a) / 1e6).toFixed(1);
    console.log(
      `      timing: prepare ${ms(start, prepared)} ms, isolate ${ms(prepared, isolated)} ms, cleanup (kill + rmdir) ${ms(isolated, done)} ms, total ${ms(start, done)} ms`,
    );
    assert.equal(await isolator.exists(id), false);
  });
});
