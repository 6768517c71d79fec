import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../common/index.js';
import { createIsolator } from './create-isolator.js';
import { detectCgroupVersion, readOwnCgroupPaths } from './detect.js';

describe('createIsolator', () => {
  const cgroupsRoot = `tessera-test-${randomBytes(4).toString('hex')}`;
  let version: Awaited<ReturnType<typeof detectCgroupVersion>>;

  before(async () => {
    version = await detectCgroupVersion();
  });

  after(async () => {
    if (version !== 'v1') return;
    const own = await readOwnCgroupPaths();
    for (const controller of ['memory', 'cpu', 'cpuacct', 'pids', 'freezer']) {
      await rmdir(join('/sys/fs/cgroup', controller, own.get(controller) ?? '/', cgroupsRoot)).catch(() => undefined);
    }
  });

  it('posix mode is posix', async () => {
    const isolator = await createIsolator({ mode: 'posix', cgroupsRoot, logger: silentLogger });
    assert.equal(isolator.name, 'posix');
    assert.equal(isolator.enforcing, false);
  });

  it('auto and cgroups modes pick the detected version on this host', async function () {
    const root = process.getuid?.() === 0;
    if (version !== 'v1' || !root) {
      const reason = `expects a root cgroups v1 host (uid ${process.getuid?.()}, detected ${version})`;
      if (process.env.CI === 'true') throw new Error(reason);
      console.log(`      skipped: ${reason}`);
      this.skip();
    }
    for (const mode of ['auto', 'cgroups'] as const) {
      const isolator = await createIsolator({ mode, cgroupsRoot, logger: silentLogger });
      assert.equal(isolator.name, 'cgroups-v1', mode);
      assert.equal(isolator.enforcing, true);
      assert.match(isolator.dockerCgroupParent ?? '', new RegExp(`/${cgroupsRoot}/docker$`));
    }
  });
});
