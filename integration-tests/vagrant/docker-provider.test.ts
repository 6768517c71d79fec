// The provisioning scripts run for real, by Vagrant, over SSH: Vagrant's docker provider boots
// containers of an offline sshd image (build-sshd-image.sh) as the "VMs" of the Vagrantfile —
// here a ZooKeeper machine and a master machine — and runs every provisioning step in them.
// Checked: provisioning succeeds; a second `vagrant provision` changes nothing (no apt, no npm, no
// restart); `serf members` lists both machines with their role tags, found by mDNS with no address
// given; the master found ZooKeeper through Serf and leads (its /master/state, from inside).
// The containers have no systemd: role.sh runs the units' ExecStart commands under supervise.sh.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../harness/wait.js';
import { missingPart, onPath, REPO_ROOT, run, tail, type RunResult } from './run.js';

const IMAGE_SCRIPT = join(REPO_ROOT, 'integration-tests', 'vagrant', 'build-sshd-image.sh');
const MACHINES = ['zk-1', 'master-1'] as const;
const RUN_LABEL = 'tessera.vagrant-test.pid';
type Machine = (typeof MACHINES)[number];

interface SerfMember {
  name: string;
  addr: string;
  status: string;
  tags: Record<string, string>;
}

/** Containers of earlier runs whose test process died before its after hook (SIGKILL, crash). */
async function removeLeftovers(): Promise<void> {
  const list = await run('docker', ['ps', '-a', '--filter', `label=${RUN_LABEL}`, '--format', `{{.ID}} {{.Label "${RUN_LABEL}"}}`], {
    timeoutMs: 15_000,
  });
  for (const line of list.stdout.split('\n')) {
    const [id, pid] = line.trim().split(' ');
    if (!id || !pid || processAlive(Number(pid))) continue;
    console.log(`      removing container ${id} left by test process ${pid}, and its work dir`);
    // The run's work dir is the parent of the synced folder the container mounts.
    const mounts = await run('docker', ['inspect', '-f', '{{range .Mounts}}{{.Source}}\n{{end}}', id], { timeoutMs: 15_000 });
    await run('docker', ['rm', '-f', id], { timeoutMs: 30_000 });
    for (const source of mounts.stdout.split('\n')) {
      const dir = /^(.*\/tessera-vagrant-docker-[^/]+)\//.exec(source)?.[1];
      if (dir && dir.startsWith(tmpdir())) await rm(dir, { recursive: true, force: true });
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('Vagrant docker provider: provisioning over SSH', function () {
  // Only the image build (once per recipe, ~2 min) may take long; the test itself is well under this.
  this.timeout(600_000);
  let work: string | undefined;
  let env: NodeJS.ProcessEnv = {};
  let up: RunResult | undefined;
  const containers = new Map<Machine, string>();

  before(async function () {
    for (const tool of ['vagrant', 'docker', 'debootstrap']) {
      if (!(await onPath(tool))) return missingPart(this, `no \`${tool}\` on PATH (scripts/setup-host.sh installs it)`);
    }
    if ((await run('docker', ['info'], { timeoutMs: 15_000 })).code !== 0) {
      return missingPart(this, 'the Docker engine does not answer (start dockerd)');
    }
    if (process.getuid?.() !== 0) return missingPart(this, 'debootstrap needs root');
    await removeLeftovers();
    const npmCache = (await run('npm', ['config', 'get', 'cache'], { timeoutMs: 15_000 })).stdout.trim();

    const image = await run('bash', [IMAGE_SCRIPT], { timeoutMs: 540_000 });
    assert.equal(image.code, 0, `building the sshd image failed:\n${tail(image.output)}`);
    const tag = image.stdout.trim().split('\n').pop() ?? '';
    console.log(`      image ${tag} (${(image.ms / 1000).toFixed(1)} s)`);

    // A snapshot of the project as the synced folder: the containers bind-mount it, so they must never
    // see (or write) the live checkout, and a file edited meanwhile must not make provisioning differ.
    work = await mkdtemp(join(tmpdir(), 'tessera-vagrant-docker-'));
    const src = join(work, 'src');
    const skip = new Set(['node_modules', 'dist', '.git', '.vagrant'].map((name) => join(REPO_ROOT, name)));
    await cp(REPO_ROOT, src, { recursive: true, preserveTimestamps: true, filter: (path) => !skip.has(path) });
    // npm ci runs offline from a copy of this host's npm cache (the registry's TLS is not trusted inside).
    await cp(npmCache, join(work, 'npm-cache'), { recursive: true });

    env = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith('TESSERA_')) delete env[key];
    Object.assign(env, {
      VAGRANT_HOME: join(work, 'vagrant-home'),
      VAGRANT_DOTFILE_PATH: join(work, 'dot'),
      VAGRANT_CWD: src,
      VAGRANT_CHECKPOINT_DISABLE: '1',
      TESSERA_PROVIDER: 'docker',
      TESSERA_DOCKER_IMAGE: tag,
      TESSERA_DOCKER_VOLUMES: `${join(work, 'npm-cache')}:/var/cache/tessera-npm`,
      // Marks the containers as this run's, for removeLeftovers() should this process die first.
      TESSERA_DOCKER_ARGS: `--label ${RUN_LABEL}=${process.pid}`,
      TESSERA_NPM_ARGS: '--offline --cache /var/cache/tessera-npm',
      TESSERA_ZK: '1',
      TESSERA_MASTERS: '1',
      TESSERA_AGENTS: '0',
      // As provisioning sets it on a VM (found by MAC there): node.env, and Serf's mDNS on that NIC.
      TESSERA_IFACE: 'eth0',
      // Our own mDNS cluster name: another cluster on the same Docker bridge cannot join this one.
      TESSERA_SERF_CLUSTER: `tessera-test-${process.pid}`,
    });
  });

  after(async function () {
    this.timeout(180_000);
    if (!work) return;
    const destroy = await run('vagrant', ['destroy', '-f', '--no-color'], { cwd: env.VAGRANT_CWD, env, timeoutMs: 120_000 });
    if (destroy.code !== 0) console.log(`      vagrant destroy failed:\n${tail(destroy.output)}`);
    // Whatever vagrant left: containers it created (ids in its dotfile dir).
    for (const machine of MACHINES) {
      const id = containers.get(machine) ?? (await containerId(machine).catch(() => undefined));
      if (id && (await run('docker', ['inspect', id], { timeoutMs: 15_000 })).code === 0) {
        await run('docker', ['rm', '-f', id], { timeoutMs: 30_000 });
      }
    }
    await rm(work, { recursive: true, force: true });
  });

  async function containerId(machine: Machine): Promise<string> {
    const dot = env.VAGRANT_DOTFILE_PATH ?? '';
    return (await readFile(join(dot, 'machines', machine, 'docker', 'id'), 'utf8')).trim();
  }

  /** A command inside a machine, as root (docker exec: quicker than vagrant ssh, same container). */
  async function exec(machine: Machine, command: string, timeoutMs = 20_000): Promise<RunResult> {
    const id = containers.get(machine);
    assert.ok(id, `no container for ${machine}`);
    return run('docker', ['exec', id, 'bash', '-c', command], { timeoutMs });
  }

  async function serfMembers(machine: Machine): Promise<SerfMember[]> {
    const result = await exec(machine, 'serf members -rpc-addr=127.0.0.1:7373 -format=json');
    if (result.code !== 0) throw new Error(result.output);
    return (JSON.parse(result.stdout) as { members: SerfMember[] }).members;
  }

  /** What must not change from one provisioning to the next: daemons' process groups and pids, files. */
  async function snapshot(): Promise<Record<string, string>> {
    const state: Record<string, string> = {};
    const probes: Record<Machine, string> = {
      'zk-1': 'cat /run/tessera/*.pid; pgrep -f "[Q]uorumPeerMain"; pgrep -x serf; sha256sum /etc/tessera/node.env',
      'master-1':
        'cat /run/tessera/*.pid; pgrep -f "[m]ain.js master"; pgrep -x serf; sha256sum /etc/tessera/node.env; ' +
        'stat -c %Y /opt/tessera/dist/cli/main.js /opt/tessera/node_modules',
    };
    for (const machine of MACHINES) {
      const result = await exec(machine, probes[machine]);
      assert.equal(result.code, 0, `${machine}: ${result.output}`);
      state[machine] = result.stdout;
    }
    return state;
  }

  it('vagrant up brings up and provisions both machines', async function () {
    if (!work) return this.skip();
    up = await run('vagrant', ['up', '--provider=docker', '--no-color'], { cwd: env.VAGRANT_CWD, env, timeoutMs: 300_000 });
    for (const machine of MACHINES) {
      const id = await containerId(machine).catch(() => undefined);
      if (id) containers.set(machine, id);
    }
    console.log(`      vagrant up + provisioning: ${(up.ms / 1000).toFixed(1)} s`);
    assert.equal(up.code, 0, `vagrant up failed:\n${tail(up.output, 80)}`);
    assert.match(up.output, /zk-1: \[role\] role zookeeper on tessera-zk-1: tessera-serf tessera-zookeeper/);
    assert.match(up.output, /master-1: \[role\] role master on tessera-master-1: tessera-serf tessera-master/);
    // The provisioning paths that matter ran for real: apt-get (rsync is not in the image), npm ci, build.
    assert.match(up.output, /zk-1: \[common\] installing rsync/);
    assert.match(up.output, /master-1: \[tessera\] npm ci/);
    assert.match(up.output, /master-1: \[tessera\] built \/opt\/tessera\/dist/);
    assert.match(up.output, /master-1: \[common\] node v2\d+\.\S+ already installed/);
    const nodeEnv = await exec('master-1', 'cat /etc/tessera/node.env');
    assert.match(nodeEnv.stdout, /^TESSERA_ROLE="master"$/m);
    assert.match(nodeEnv.stdout, /^TESSERA_NODE="tessera-master-1"$/m);
    assert.doesNotMatch(nodeEnv.stdout, /TESSERA_SERF_JOIN/, 'no seed address: Serf discovers by mDNS');
    assert.match(nodeEnv.stdout, /^TESSERA_IFACE="eth0"$/m);
    assert.match(nodeEnv.stdout, /^TESSERA_SERF_ARGS="-iface=eth0"$/m);
    const serf = await exec('master-1', 'pgrep -a -x serf');
    assert.match(serf.stdout, /-discover=tessera-test-\d+ -iface=eth0/, serf.output);
  });

  it('serf members on a machine lists both with their role tags (mDNS discovery)', async function () {
    if (!up || up.code !== 0) return this.skip();
    const members = await waitFor(
      'both machines alive in Serf',
      async () => {
        const list = await serfMembers('zk-1');
        return list.filter((m) => m.status === 'alive').length === 2 ? list : undefined;
      },
      30_000,
      500,
    );
    const roles = Object.fromEntries(members.map((m) => [m.name, m.tags.role]));
    assert.deepEqual(roles, { 'tessera-zk-1': 'zookeeper', 'tessera-master-1': 'master' });
    // And the same view from the other side, through the runtime script the units use.
    const discovered = await exec('master-1', 'tessera-discover zookeeper --timeout 10');
    const zk = members.find((m) => m.name === 'tessera-zk-1');
    assert.equal(discovered.stdout.trim(), zk?.addr.replace(/:\d+$/, ''), discovered.output);
  });

  it('the master found ZooKeeper through Serf and leads', async function () {
    if (!up || up.code !== 0) return this.skip();
    const members = await serfMembers('master-1');
    const address = (name: string): string => members.find((m) => m.name === name)?.addr.replace(/:\d+$/, '') ?? '';
    const zkIp = address('tessera-zk-1');
    const masterIp = address('tessera-master-1');
    assert.ok(zkIp && masterIp, JSON.stringify(members));

    const log = await waitFor(
      'the master to log the ZooKeeper it found',
      async () => {
        const result = await exec('master-1', 'cat /var/log/tessera/tessera-master.log');
        return result.stdout.includes('tessera-run-master: master on') ? result.stdout : undefined;
      },
      30_000,
      500,
    );
    assert.match(log, new RegExp(`master on ${masterIp.replaceAll('.', '\\.')}, ZooKeeper zk://${zkIp.replaceAll('.', '\\.')}:2181/tessera`));

    const state = await waitFor(
      'the master to lead (GET /master/state from inside its machine)',
      async () => {
        const result = await exec('master-1', `curl -fsS --max-time 3 http://${masterIp}:5050/master/state`);
        if (result.code !== 0) throw new Error(result.output);
        const body = JSON.parse(result.stdout) as { pid: string; leader?: string; leader_info?: { ip: string; port: number } };
        return body.leader !== undefined && body.leader === body.pid ? body : undefined;
      },
      60_000,
      500,
    );
    assert.equal(state.leader_info?.ip, masterIp);
    assert.equal(state.leader_info?.port, 5050);
    // The leader is in ZooKeeper, on the zk machine: the master did not just run standalone.
    const zkLs = await exec(
      'zk-1',
      `java -cp '/usr/share/java/*:/etc/zookeeper/conf_example' org.apache.zookeeper.ZooKeeperMain -server ${zkIp}:2181 ls /tessera 2>/dev/null | tail -n 1`,
      30_000,
    );
    assert.match(zkLs.stdout, /^\[.+\]$/m, `ls /tessera in ZooKeeper: ${zkLs.output}`);
  });

  it('vagrant provision again is idempotent: nothing reinstalled, rebuilt or restarted', async function () {
    if (!up || up.code !== 0) return this.skip();
    const before = await snapshot();
    const again = await run('vagrant', ['provision', '--no-color'], { cwd: env.VAGRANT_CWD, env, timeoutMs: 120_000 });
    console.log(`      second provisioning: ${(again.ms / 1000).toFixed(1)} s`);
    assert.equal(again.code, 0, `vagrant provision failed:\n${tail(again.output, 80)}`);
    const after = await snapshot();
    assert.deepEqual(after, before, 'daemons, node.env and the build are the same');
    for (const pattern of [/installing /, /npm ci/, /npm run build/, /restarting/, /starting tessera-/, /wrote \/etc\/tessera/, /copied /]) {
      assert.doesNotMatch(again.output, pattern, `second run did work (${pattern}):\n${tail(again.output, 60)}`);
    }
    for (const machine of MACHINES) {
      assert.match(again.output, new RegExp(`${machine}: \\[tessera\\] /opt/tessera is up to date`));
      assert.match(again.output, new RegExp(`${machine}: \\[role\\] tessera-serf running .*unchanged`));
    }
    assert.match(again.output, /master-1: \[tessera\] build is up to date/);
    assert.match(again.output, /master-1: \[role\] tessera-master running .*unchanged/);
  });
});
