import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { silentLogger } from '../../common/index.js';
import { IsolatorError } from '../errors.js';
import { PosixIsolator } from './posix-isolator.js';
import { parseProcStat, readProcStat } from './proc-stat.js';

/** Live (non-zombie) members of a process group, from /proc. */
async function groupMembers(pgrp: number): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const stats = await Promise.all(pids.map((pid) => readProcStat(pid)));
  return pids.filter((_pid, i) => stats[i]?.pgrp === pgrp && stats[i]?.state !== 'Z');
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('parseProcStat', () => {
  it('reads state, times and process group even with ") " in the command name', () => {
    const text = '1234 (we ird) (x) R 1 1234 1234 0 -1 4194304 100 0 0 0 250 30 7 3 20 0 1 0 100 0 0';
    assert.deepEqual(parseProcStat(text), { state: 'R', userTicks: 257, systemTicks: 33, pgrp: 1234 });
    assert.equal(parseProcStat('garbage'), undefined);
  });
});

describe('PosixIsolator (real processes)', () => {
  const started: ChildProcess[] = [];
  let isolator: PosixIsolator;

  before(async () => {
    isolator = await PosixIsolator.create({ logger: silentLogger });
  });

  after(() => {
    for (const child of started) {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
    }
  });

  it('enforces nothing and has no docker cgroup parent', () => {
    assert.equal(isolator.name, 'posix');
    assert.equal(isolator.enforcing, false);
    assert.equal(isolator.dockerCgroupParent, undefined);
  });

  it('tracks, measures and kills the process group; watch is cancelled by cleanup', async () => {
    const id = 'posix-1';
    await isolator.prepare(id, { cpus: 1, memBytes: 2 ** 26 });
    assert.equal(await isolator.exists(id), true);
    // A busy shell in its own process group, with a background sleep in the same group.
    const child = spawn('sh', ['-c', 'sleep 1000 & i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; wait'], {
      detached: true,
      stdio: 'ignore',
    });
    started.push(child);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_c, signal) => resolve(signal)));
    assert.ok(child.pid !== undefined);
    await isolator.isolate(id, child.pid);
    assert.deepEqual(await isolator.processes(id), [child.pid]);
    const watched = isolator.watch(id);
    await waitFor('CPU time to accrue', async () => {
      const usage = await isolator.usage(id);
      return (usage.cpus_user_time_secs ?? 0) + (usage.cpus_system_time_secs ?? 0) > 0.05;
    });
    const usage = await isolator.usage(id);
    assert.equal(usage.processes, 1);
    assert.equal(usage.cpus_limit, 1);
    assert.ok((await groupMembers(child.pid)).length >= 2, 'the shell and its background sleep');
    await isolator.kill(id);
    assert.equal(await exited, 'SIGKILL');
    await waitFor('the whole group to die', async () => (await groupMembers(child.pid!)).length === 0);
    assert.deepEqual(await isolator.processes(id), []);
    await isolator.cleanup(id);
    await assert.rejects(watched, (err: unknown) => err instanceof IsolatorError && err.code === 'CANCELLED');
    assert.equal(await isolator.exists(id), false);
    await isolator.cleanup(id); // idempotent
    await assert.rejects(isolator.usage(id), (err: unknown) => err instanceof IsolatorError && err.code === 'NOT_FOUND');
  });
});
