// The isolator against a fake cgroup tree of plain files: what it writes and what it reads back.
// Runs anywhere; the real kernel is exercised by cgroups2-isolator.test.ts.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../common/index.js';
import { IsolatorError } from '../errors.js';
import { Cgroups2Isolator } from './index.js';

const MB = 2 ** 20;

describe('Cgroups2Isolator on a fake tree', () => {
  let mount: string;

  beforeEach(async () => {
    mount = await mkdtemp(join(tmpdir(), 'tessera-cg2-fake-'));
    await mkdir(join(mount, 'agent.service', 'tessera'), { recursive: true });
    await writeFile(join(mount, 'agent.service', 'cgroup.controllers'), 'cpuset cpu io memory pids\n');
    await writeFile(join(mount, 'agent.service', 'cgroup.subtree_control'), '\n');
    await writeFile(join(mount, 'agent.service', 'tessera', 'cgroup.subtree_control'), 'cpu memory pids\n');
  });

  afterEach(async () => {
    await rm(mount, { recursive: true, force: true });
  });

  const create = (): Promise<Cgroups2Isolator> =>
    Cgroups2Isolator.create({
      cgroupsRoot: 'tessera',
      logger: silentLogger,
      mountPoint: mount,
      procSelfCgroup: '1:name=systemd:/\n0::/agent.service\n',
    });

  it('enables controllers beneath its own cgroup and names the Docker parent', async () => {
    const isolator = await create();
    assert.equal(isolator.rootDir, join(mount, 'agent.service', 'tessera'));
    assert.equal(isolator.dockerCgroupParent, '/agent.service/tessera/docker');
    // One write, all or nothing (see enableControllers).
    assert.equal(await readFile(join(mount, 'agent.service', 'cgroup.subtree_control'), 'utf8'), '+cpu +memory +pids');
  });

  it('writes the limits, skipping optional files the kernel lacks', async () => {
    const isolator = await create();
    const dir = join(isolator.rootDir, 'c1');
    await mkdir(dir);
    await writeFile(join(dir, 'memory.oom.group'), '0');
    await isolator.prepare('c1', { cpus: 0.5, memBytes: 64 * MB, pids: 50 });
    const read = (file: string): Promise<string> => readFile(join(dir, file), 'utf8');
    assert.equal(await read('cpu.max'), '50000 100000');
    assert.equal(await read('cpu.weight'), '50');
    assert.equal(await read('memory.max'), String(64 * MB));
    assert.equal(await read('memory.oom.group'), '1');
    assert.equal(await read('pids.max'), '50');
    await assert.rejects(stat(join(dir, 'memory.swap.max')), { code: 'ENOENT' });
    assert.equal(await isolator.exists('c1'), true);
    assert.equal(await isolator.exists('c2'), false);
    assert.deepEqual(await isolator.processes('c2'), []);
  });

  it('reports every failing controller by name and removes the cgroup it made', async () => {
    const isolator = await create();
    await assert.rejects(
      isolator.prepare('bad', { cpus: -1, memBytes: 0, pids: 0 }),
      (err: unknown) =>
        err instanceof IsolatorError &&
        err.code === 'CGROUP_SETUP_FAILED' &&
        /cpu: cpus must be/.test(err.message) &&
        /memory: memBytes must be/.test(err.message) &&
        /pids: pids must be/.test(err.message),
    );
    await assert.rejects(stat(join(isolator.rootDir, 'bad')), { code: 'ENOENT' });
  });

  it('reads usage from the stat files', async () => {
    const isolator = await create();
    const dir = join(isolator.rootDir, 'c1');
    await isolator.prepare('c1', { cpus: 1, memBytes: 64 * MB });
    await writeFile(join(dir, 'cpu.stat'), 'usage_usec 3\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 9\nnr_throttled 4\nthrottled_usec 100000\n');
    await writeFile(join(dir, 'memory.current'), '4096\n');
    await writeFile(join(dir, 'memory.stat'), 'anon 1024\n');
    await writeFile(join(dir, 'memory.events'), 'oom 2\noom_kill 2\n');
    await writeFile(join(dir, 'pids.current'), '5\n');
    const before = Date.now() / 1000;
    const usage = await isolator.usage('c1');
    assert.ok(usage.timestamp >= before && usage.timestamp <= Date.now() / 1000 + 1);
    assert.deepEqual(
      { ...usage, timestamp: 0 },
      {
        timestamp: 0,
        cpus_limit: 1,
        cpus_user_time_secs: 2,
        cpus_system_time_secs: 0.5,
        cpus_nr_periods: 9,
        cpus_nr_throttled: 4,
        cpus_throttled_time_secs: 0.1,
        mem_limit_bytes: 64 * MB,
        mem_total_bytes: 4096,
        mem_rss_bytes: 1024,
        mem_oom_kills: 2,
        processes: 5,
      },
    );
    await assert.rejects(isolator.usage('nope'), { code: 'NOT_FOUND' });
  });

  it('watch() resolves when oom_kill rises above what prepare saw', async () => {
    const isolator = await create();
    const dir = join(isolator.rootDir, 'c1');
    await mkdir(dir);
    await writeFile(join(dir, 'memory.events'), 'oom_kill 0\n');
    await isolator.prepare('c1', { cpus: 1, memBytes: 64 * MB });
    const watching = isolator.watch('c1');
    await writeFile(join(dir, 'memory.events'), 'oom 1\noom_kill 1\n');
    const limitation = await watching;
    assert.equal(limitation.resource, 'mem');
    assert.equal(limitation.reason, 'REASON_CONTAINER_LIMITATION_MEMORY');
    assert.match(limitation.message, /64\.0 MB/);
  });

  it('refuses when a controller is not available, and bad container ids', async () => {
    await writeFile(join(mount, 'agent.service', 'cgroup.controllers'), 'cpu io\n');
    await assert.rejects(create(), (err: unknown) => err instanceof IsolatorError && err.code === 'NO_CGROUPS' && /memory, pids/.test(err.message));
    await writeFile(join(mount, 'agent.service', 'cgroup.controllers'), 'cpu memory pids\n');
    const isolator = await create();
    await assert.rejects(isolator.prepare('../escape', { cpus: 1, memBytes: MB }), { code: 'CGROUP_SETUP_FAILED' });
  });
});
