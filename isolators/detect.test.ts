import assert from 'node:assert/strict';
import { classifyCgroups, ownCgroupPaths, parseMountinfo, v1ControllerMounts } from './detect.js';

// This host: cgroups v1 hierarchies plus an empty cgroup2 at /sys/fs/cgroup/unified (hybrid).
const HYBRID = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`;

// A systemd host with cpu,cpuacct co-mounted and shared:N optional fields.
const COMOUNTED = `25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:12 - cgroup cgroup rw,cpu,cpuacct
31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid shared:13 - cgroup cgroup rw,memory
32 25 0:28 / /sys/fs/cgroup/pids rw,nosuid shared:14 - cgroup cgroup rw,pids
`;

const UNIFIED = `26 23 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`;

describe('detect', () => {
  describe('parseMountinfo', () => {
    it('reads mount point, root, fs type and super options past the optional fields', () => {
      const entries = parseMountinfo(COMOUNTED);
      assert.equal(entries.length, 4);
      assert.deepEqual(entries[1], {
        root: '/',
        mountPoint: '/sys/fs/cgroup/cpu,cpuacct',
        fsType: 'cgroup',
        source: 'cgroup',
        superOptions: ['rw', 'cpu', 'cpuacct'],
      });
    });

    it('unescapes octal escapes and skips garbage lines', () => {
      const entries = parseMountinfo('garbage\n50 1 0:40 / /mnt/a\\040b rw - tmpfs none rw\n');
      assert.equal(entries.length, 1);
      assert.equal(entries[0]?.mountPoint, '/mnt/a b');
    });

    it('maps v1 controllers to their mounts, ignoring name= hierarchies', () => {
      const mounts = v1ControllerMounts(parseMountinfo(COMOUNTED));
      assert.equal(mounts.get('cpuacct')?.mountPoint, '/sys/fs/cgroup/cpu,cpuacct');
      assert.equal(mounts.get('cpu'), mounts.get('cpuacct'));
      assert.equal(v1ControllerMounts(parseMountinfo(HYBRID)).has('name=systemd'), false);
      assert.equal(v1ControllerMounts(parseMountinfo(HYBRID)).has('rw'), false);
    });
  });

  describe('classifyCgroups', () => {
    it('hybrid host with an empty cgroup2 at unified is v1', () => {
      assert.equal(classifyCgroups(HYBRID, undefined), 'v1');
      // Even if cgroup.controllers were readable at the mount point, that is not a cgroup2 mount.
      assert.equal(classifyCgroups(HYBRID, 'cpu memory pids'), 'v1');
    });

    it('unified host with memory, cpu, pids is v2', () => {
      assert.equal(classifyCgroups(UNIFIED, 'cpuset cpu io memory hugetlb pids rdma misc\n'), 'v2');
    });

    it('unified host lacking a controller is none', () => {
      assert.equal(classifyCgroups(UNIFIED, 'cpuset io memory pids'), 'none');
      assert.equal(classifyCgroups(UNIFIED, undefined), 'none');
    });

    it('v1 host without cpuacct is none; co-mounted cpu,cpuacct is v1', () => {
      assert.equal(classifyCgroups(HYBRID.replace(/.*cpuacct.*\n/, ''), undefined), 'none');
      assert.equal(classifyCgroups(COMOUNTED, undefined), 'v1');
    });

    it('no cgroups at all is none', () => {
      assert.equal(classifyCgroups('22 1 0:5 / /proc rw - proc proc rw\n', undefined), 'none');
    });
  });

  describe('ownCgroupPaths', () => {
    it('gives each controller its own path and the v2 path under ""', () => {
      const paths = ownCgroupPaths(
        '9:name=systemd:/\n8:pids:/\n4:memory:/process_api/13c4\n2:cpu,cpuacct:/a/b\n0::/user.slice\n',
      );
      assert.equal(paths.get('memory'), '/process_api/13c4');
      assert.equal(paths.get('pids'), '/');
      assert.equal(paths.get('cpu'), '/a/b');
      assert.equal(paths.get('cpuacct'), '/a/b');
      assert.equal(paths.get(''), '/user.slice');
      assert.equal(paths.get('name=systemd'), '/');
    });
  });
});
