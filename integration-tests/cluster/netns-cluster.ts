// A Tessera cluster on one machine whose "hosts" are network namespaces, built like the Vagrant VMs:
// a "switch" namespace holds the bridge br0 and dnsmasq (DHCP only); each host namespace has a veth
// cable into br0 (eth0) and gets its address by DHCP; every host runs `tessera-serf` and its role's
// `tessera-run-*` script from vagrant/bin, and they find each other through Serf alone (mDNS by
// default, as bridged VMs do). Nothing is made in the root namespace: the bridge lives in the switch
// namespace (Docker's FORWARD DROP in the root namespace would eat bridged traffic), and the test
// reaches the hosts through a relay process on the client host (client-relay.ts).
//
// Names are unique per run (`tsr-<runId>-…`), and a record of everything (run-record.ts) is written
// before it is made, so a crashed run can be torn down later by anyone (sweepStaleRuns).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isTerminal, type TaskState, type TaskView } from '../../common/index.js';
import { cgroupDirs } from '../harness/cleanup.js';
import { waitFor } from '../harness/wait.js';
import { HostHttp } from './host-http.js';
import { captureIn, ip, ipIn, listNetns, netnsInode, run, runIn, signal, startTicks, type CaptureResult, type ExecResult } from './netns.js';
import { listRecords, ownerAlive, runDir, saveRecord, type RunRecord } from './run-record.js';
import { findLeftovers, teardownRun } from './teardown.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const SCRIPTS_DIR = join(REPO_ROOT, 'vagrant', 'bin');
export const CLI_JS = join(REPO_ROOT, 'dist', 'cli', 'main.js');
const UDHCPC_SCRIPT = join(REPO_ROOT, 'integration-tests', 'cluster', 'udhcpc-script.sh');
const RELAY_JS = fileURLToPath(new URL('./client-relay.js', import.meta.url));

export type HostRole = 'zookeeper' | 'master' | 'agent' | 'framework';

const ROLE_SCRIPT: Record<HostRole, string> = {
  zookeeper: 'tessera-run-zookeeper',
  master: 'tessera-run-master',
  agent: 'tessera-run-agent',
  framework: 'tessera-run-services',
};

export const PORTS = { zookeeper: 2181, master: 5050, agent: 5051, services: 8080 } as const;

export interface NetnsClusterOptions {
  zookeepers?: number;
  masters?: number;
  agents?: number;
  /** Serf peers: 'mdns' (no TESSERA_SERF_JOIN, like the VMs; default) or 'seed' (join the first ZooKeeper host). */
  serfJoin?: 'mdns' | 'seed';
  /** First three octets of the bridge's /24; every run can use the same one (each has its own bridge). */
  subnet?: string;
  /** Extra flags, after the harness's short test timeouts (which they can override). */
  masterArgs?: string[];
  agentArgs?: string[];
  frameworkArgs?: string[];
  /** ZooKeeper tick (sessions can be as short as two ticks); default 200 ms. */
  zkTickMs?: number;
  /** How long bring-up may take before it fails; default 90 s. */
  readyTimeoutMs?: number;
  /** Aborts bring-up (create() then tears down what it made and rejects). */
  signal?: AbortSignal;
  progress?: (message: string) => void;
}

/** The short timeouts a test wants (the masters lose a silent agent after 4 s). */
const TEST_MASTER_ARGS = ['--agent-timeout', '4s', '--zk-session-timeout', '2s', '--heartbeat-interval', '1s',
  '--agent-reregister-timeout', '30s', '--allocation-interval', '500ms'];
const TEST_FRAMEWORK_ARGS = ['--zk-session-timeout', '2s'];

export class NetnsHost {
  /** Its DHCP address on the bridge. */
  ip = '';
  constructor(
    readonly name: string,
    readonly role: HostRole,
    /** Its network namespace. */
    readonly ns: string,
    /** TESSERA_STATE_DIR: work dirs of what runs there. */
    readonly stateDir: string,
  ) {}

  /** Its end of the cable, inside the switch namespace: `ip link set … down` unplugs the host. */
  get switchPort(): string {
    return `v-${this.name}`;
  }

  url(port: number, path = ''): string {
    return `http://${this.ip}:${port}${path}`;
  }
}

/** One line of `serf members`. */
export interface SerfMember {
  name: string;
  address: string;
  status: string;
  tags: Record<string, string>;
}

/** The parts of GET /master/state the harness and its test read. */
export interface NetnsMasterState {
  leader: string;
  leader_info: { hostname: string; ip: string; port: number };
  slaves: Array<{ id: string; pid: string; hostname: string; active: boolean; status: string; reregistered_time?: number }>;
  frameworks: Array<{ id: string; name: string; active: boolean; tasks: Array<{ id: string; state: TaskState; slave_id: string }> }>;
}

/** Kills every process group of the runs made by this process if it exits without tearing them down. */
const liveClusters = new Set<NetnsCluster>();
process.once('exit', () => {
  for (const cluster of liveClusters) for (const proc of cluster.record.processes) if (!signal(-proc.pid, 'SIGKILL')) signal(proc.pid, 'SIGKILL');
});

export class NetnsCluster {
  readonly http: HostHttp;
  private readonly children = new Map<string, ChildProcess>();
  /** Processes that ended while the cluster was meant to run: name → how. */
  private readonly unexpectedExits = new Map<string, string>();
  private destroyed = false;
  private readonly progress: (message: string) => void;

  private constructor(
    readonly record: RunRecord,
    readonly hosts: NetnsHost[],
    readonly switchNs: string,
    private readonly options: NetnsClusterOptions,
  ) {
    this.http = new HostHttp(join(record.baseDir, 'client.sock'));
    this.progress = options.progress ?? ((): void => undefined);
  }

  get runId(): string {
    return this.record.runId;
  }

  get baseDir(): string {
    return this.record.baseDir;
  }

  get logDir(): string {
    return join(this.record.baseDir, 'logs');
  }

  byRole(role: HostRole): NetnsHost[] {
    return this.hosts.filter((h) => h.role === role);
  }

  get masters(): NetnsHost[] {
    return this.byRole('master');
  }

  get agents(): NetnsHost[] {
    return this.byRole('agent');
  }

  get zookeepers(): NetnsHost[] {
    return this.byRole('zookeeper');
  }

  /** The client/framework host: the services framework runs there, and the test's requests leave from it. */
  get client(): NetnsHost {
    return this.host('client');
  }

  host(name: string): NetnsHost {
    const host = this.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`no host ${name} in run ${this.runId}`);
    return host;
  }

  /** The ZooKeeper URL masters and agents found through Serf. */
  get zkUrl(): string {
    return `zk://${this.zookeepers.map((h) => `${h.ip}:${PORTS.zookeeper}`).join(',')}/tessera`;
  }

  get servicesUrl(): string {
    return this.client.url(PORTS.services);
  }

  /** Builds the network, starts every host, and resolves once the cluster serves (a leader, all agents, services). */
  static async create(options: NetnsClusterOptions = {}): Promise<NetnsCluster> {
    const present = await listNetns();
    let runId = '';
    for (let attempt = 0; attempt < 20 && !runId; attempt++) {
      const candidate = randomBytes(2).toString('hex');
      const taken = present.some((ns) => ns.startsWith(`tsr-${candidate}-`)) || (await access(runDir(candidate)).then(() => true, () => false));
      if (!taken) runId = candidate;
    }
    if (!runId) throw new Error('no free run id');
    const baseDir = runDir(runId);
    await mkdir(join(baseDir, 'logs'), { recursive: true });

    const hosts: NetnsHost[] = [];
    const add = (name: string, role: HostRole): void => {
      hosts.push(new NetnsHost(name, role, `tsr-${runId}-${name}`, join(baseDir, name)));
    };
    for (let i = 1; i <= (options.zookeepers ?? 1); i++) add(`zk${i}`, 'zookeeper');
    for (let i = 1; i <= (options.masters ?? 3); i++) add(`master${i}`, 'master');
    for (let i = 1; i <= (options.agents ?? 3); i++) add(`agent${i}`, 'agent');
    add('client', 'framework');
    const switchNs = `tsr-${runId}-switch`;

    const dirs = new Set<string>();
    for (const agent of hosts.filter((h) => h.role === 'agent')) for (const dir of await cgroupDirs(cgroupsRoot(runId, agent))) dirs.add(dir);
    const record: RunRecord = {
      runId,
      ownerPid: process.pid,
      ...optional('ownerStartTicks', await startTicks(process.pid)),
      baseDir,
      namespaces: [switchNs, ...hosts.map((h) => h.ns)],
      netnsInodes: [],
      processes: [],
      cgroupDirs: [...dirs],
      agentIds: [],
    };
    await saveRecord(record);
    const cluster = new NetnsCluster(record, hosts, switchNs, options);
    liveClusters.add(cluster);
    try {
      const started = Date.now();
      await cluster.buildNetwork();
      await cluster.startHosts();
      await cluster.waitReady(options.readyTimeoutMs ?? 90_000);
      cluster.progress(`cluster ${runId} up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } catch (err) {
      const detail = await cluster.diagnostics();
      await cluster.destroy().catch(() => undefined);
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${detail}`, { cause: err });
    }
    return cluster;
  }

  private async buildNetwork(): Promise<void> {
    const subnet = this.options.subnet ?? '10.77.0';
    this.progress(`run ${this.runId}: ${this.hosts.length + 1} namespaces, bridge ${subnet}.0/24`);
    for (const ns of this.record.namespaces) {
      await ip('netns', 'add', ns);
      const inode = await netnsInode(ns);
      if (inode !== undefined) this.record.netnsInodes.push(inode);
    }
    await saveRecord(this.record);
    const sw = this.switchNs;
    await ipIn(sw, 'link', 'set', 'lo', 'up');
    await ipIn(sw, 'link', 'add', 'br0', 'type', 'bridge');
    await ipIn(sw, 'addr', 'add', `${subnet}.1/24`, 'dev', 'br0');
    await ipIn(sw, 'link', 'set', 'br0', 'up');
    for (const host of this.hosts) {
      await this.checkAlive();
      // Made inside the namespaces directly: no name is ever taken in the root namespace.
      await ipIn(sw, 'link', 'add', host.switchPort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.ns);
      await ipIn(sw, 'link', 'set', host.switchPort, 'master', 'br0', 'up');
      await ipIn(host.ns, 'link', 'set', 'lo', 'up');
      await ipIn(host.ns, 'link', 'set', 'eth0', 'up');
    }
    await this.spawnIn(sw, 'switch/dnsmasq', ['dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
      '--port=0', '--no-ping', '--bind-interfaces', '--interface=br0', '--except-interface=lo', '--leasefile-ro', '--pid-file=',
      `--dhcp-range=${subnet}.10,${subnet}.250,255.255.255.0,12h`, '--log-facility=-', '--log-dhcp'], { PATH: systemPath() });
    await poll('dnsmasq to serve DHCP', async () => {
      await this.checkAlive();
      return (await this.logTail('switch/dnsmasq', 50)).includes('DHCP, IP range') ? true : undefined;
    }, 10_000, 50);
    this.progress('DHCP');
    await Promise.all(this.hosts.map(async (host) => {
      // -B: broadcast replies (a fresh veth drops unicast offers to an address it does not have yet).
      await runIn(host.ns, 'busybox', ['udhcpc', '-B', '-q', '-n', '-t', '10', '-T', '1', '-i', 'eth0', '-s', UDHCPC_SCRIPT], 20_000);
      const out = (await ipIn(host.ns, '-4', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'global')).stdout;
      const address = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(out)?.[1];
      if (!address) throw new Error(`${host.name}: no address after DHCP (${out.trim()})`);
      host.ip = address;
    }));
    this.progress(this.hosts.map((h) => `${h.name}=${h.ip}`).join(' '));
  }

  private async startHosts(): Promise<void> {
    this.progress('starting serf on every host');
    for (const host of this.hosts) await this.spawnIn(host.ns, `${host.name}/serf`, ['tessera-serf'], this.env(host));
    await this.spawnIn(this.client.ns, 'client/relay', [process.execPath, RELAY_JS, this.http.socketPath], this.env(this.client));
    this.progress('starting ZooKeeper, masters, agents and the services framework (they find each other through Serf)');
    for (const host of this.hosts) await this.spawnIn(host.ns, `${host.name}/${host.role === 'framework' ? 'services' : host.role}`, [ROLE_SCRIPT[host.role]], this.env(host));
  }

  /** What every process on a host gets: the contract's variables, nothing inherited by accident. */
  private env(host: NetnsHost): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      PATH: `${dirname(process.execPath)}:${SCRIPTS_DIR}:${systemPath()}`,
      HOME: process.env.HOME ?? '/root',
      NO_COLOR: '1',
      TESSERA_ROLE: host.role,
      TESSERA_NODE: host.name,
      TESSERA_STATE_DIR: host.stateDir,
      TESSERA_BIN: `${process.execPath} ${CLI_JS}`,
      TESSERA_DISCOVER_TIMEOUT: '60',
      TESSERA_LOG_LEVEL: process.env.TESSERA_LOG_LEVEL ?? 'info',
      // Every node knows the ensemble's size: clients wait for all of it in Serf (tessera-zk-url).
      TESSERA_ZK_SERVERS: String(this.zookeepers.length),
    };
    const seed = this.zookeepers[0];
    if (this.options.serfJoin === 'seed' && seed) env.TESSERA_SERF_JOIN = seed.ip;
    switch (host.role) {
      case 'zookeeper':
        env.TESSERA_ZK_TICK_MS = String(this.options.zkTickMs ?? 200);
        break;
      case 'master':
        env.TESSERA_MASTER_ARGS = [...TEST_MASTER_ARGS, ...(this.options.masterArgs ?? [])].join(' ');
        break;
      case 'agent':
        // Agents share this machine's cgroup hierarchy: each needs its own root.
        env.TESSERA_AGENT_ARGS = ['--cgroups-root', cgroupsRoot(this.runId, host), ...(this.options.agentArgs ?? [])].join(' ');
        break;
      case 'framework':
        env.TESSERA_FRAMEWORK_ARGS = [...TEST_FRAMEWORK_ARGS, ...(this.options.frameworkArgs ?? [])].join(' ');
        break;
      default:
        assertNeverRole(host.role);
    }
    return env;
  }

  /** Starts a long-running process in a namespace, as its own process group, logging to logs/<name>.log. */
  private async spawnIn(ns: string, name: string, argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
    const logFile = join(this.logDir, `${name.replace('/', '-')}.log`);
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn('nsenter', [`--net=/run/netns/${ns}`, '--', ...argv], { detached: true, stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd);
    }
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => (child.pid === undefined ? reject(new Error(`${name}: no pid`)) : resolve(child.pid)));
      child.once('error', (err) => reject(new Error(`${name}: ${err.message}`, { cause: err })));
    });
    this.children.set(name, child);
    child.once('exit', (code, sig) => {
      this.children.delete(name);
      if (!this.destroyed) this.unexpectedExits.set(name, sig ? `signal ${sig}` : `exit code ${code}`);
    });
    this.record.processes.push({ name, pid, ...optional('startTicks', await startTicks(pid)) });
    await saveRecord(this.record);
  }

  /** Throws ClusterFailure when a process of the cluster died (with the end of its log) or bring-up was aborted. */
  async checkAlive(): Promise<void> {
    if (this.options.signal?.aborted) throw new ClusterFailure('bring-up aborted');
    for (const [name, how] of this.unexpectedExits) {
      throw new ClusterFailure(`${name} ended (${how}):\n${await this.logTail(name, 25)}`);
    }
  }

  /** The last lines of a process's log (`agent1/agent`, `zk1/serf`, `switch/dnsmasq`, `client/services`). */
  async logTail(name: string, lines = 20): Promise<string> {
    const text = await readFile(join(this.logDir, `${name.replace('/', '-')}.log`), 'utf8').catch(() => '');
    return text.split('\n').slice(-lines - 1).map((l) => `    ${l}`).join('\n');
  }

  private async diagnostics(): Promise<string> {
    const parts: string[] = [`run ${this.runId}, logs in ${this.logDir}${process.env.TESSERA_KEEP_TEST_DIRS ? '' : ' (removed; TESSERA_KEEP_TEST_DIRS=1 keeps them)'}`];
    for (const proc of this.record.processes) parts.push(`--- ${proc.name}\n${await this.logTail(proc.name, 8)}`);
    return parts.join('\n');
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const left = (): number => Math.max(1, deadline - Date.now());
    await poll('the client relay', async () => {
      await this.checkAlive();
      return (await access(this.http.socketPath).then(() => true, () => false)) ? true : undefined;
    }, left(), 100);
    this.progress('waiting for a leading master');
    const leader = await poll('a leading master', async () => {
      await this.checkAlive();
      return this.leader();
    }, left(), 250);
    this.progress(`${leader.name} leads; waiting for ${this.agents.length} agents`);
    await poll(`${this.agents.length} agents registered`, async () => {
      await this.checkAlive();
      const state = await this.masterState().catch(() => undefined);
      if (!state) return undefined;
      const ready = this.agents.every((a) => state.slaves.some((s) => s.active && slaveIp(s.pid) === a.ip));
      return ready ? state : undefined;
    }, left(), 250);
    this.progress('waiting for the services framework');
    await poll('the services framework', async () => {
      await this.checkAlive();
      const apps = await this.http.tryJson<{ apps: unknown[] }>(`${this.servicesUrl}/v2/apps`);
      if (!apps) return undefined;
      const state = await this.masterState().catch(() => undefined);
      return state?.frameworks.some((f) => f.active && f.name === 'tessera-services') ? true : undefined;
    }, left(), 250);
    await this.rememberAgentIds();
  }

  /** The master that says it leads (asked each master's /metrics/snapshot from the client host). */
  async leader(): Promise<NetnsHost | undefined> {
    const answers = await Promise.all(
      this.masters.map((m) => this.http.tryJson<Record<string, number>>(m.url(PORTS.master, '/metrics/snapshot'), { timeoutMs: 3_000 })),
    );
    const elected = this.masters.filter((_, i) => answers[i]?.['master/elected'] === 1);
    if (elected.length > 1) throw new Error(`two masters lead at once: ${elected.map((m) => m.name).join(', ')}`);
    return elected[0];
  }

  /**
   * The leader's GET /master/state. A follower answers /master/state itself (with no agents), as
   * Mesos does, naming the leader in `leader`: ask the first master that answers, then the leader.
   */
  async masterState(): Promise<NetnsMasterState> {
    let last: unknown;
    for (const master of this.masters) {
      try {
        const state = await this.http.json<NetnsMasterState & { pid: string }>(master.url(PORTS.master, '/master/state'), { timeoutMs: 5_000 });
        if (state.pid === state.leader) return state;
        const leader = /^master@(.+)$/.exec(state.leader ?? '')?.[1];
        if (!leader) throw new Error(`${master.name} knows no leader`);
        const fromLeader = await this.http.json<NetnsMasterState & { pid: string }>(`http://${leader}/master/state`, { timeoutMs: 5_000 });
        if (fromLeader.pid !== fromLeader.leader) throw new Error(`${leader} named as leader does not lead`);
        return fromLeader;
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof Error ? last : new Error('no master answered');
  }

  /** GET /api/v1/tasks/{id} through the masters. */
  async task(taskId: string): Promise<TaskView> {
    let last: unknown;
    for (const master of this.masters) {
      try {
        return await this.http.json<TaskView>(master.url(PORTS.master, `/api/v1/tasks/${encodeURIComponent(taskId)}`), { timeoutMs: 5_000 });
      } catch (err) {
        last = err;
      }
    }
    throw last instanceof Error ? last : new Error('no master answered');
  }

  /** Agent ids the master knows, kept in the record so teardown can find their containers. */
  async rememberAgentIds(): Promise<void> {
    const state = await this.masterState().catch(() => undefined);
    if (!state) return;
    const ids = new Set([...this.record.agentIds, ...state.slaves.map((s) => s.id)]);
    if (ids.size === this.record.agentIds.length) return;
    this.record.agentIds = [...ids];
    await saveRecord(this.record);
  }

  /** The agent host at a master's `slave(1)@IP:PORT` pid. */
  agentBySlavePid(pid: string): NetnsHost | undefined {
    const address = slaveIp(pid);
    return this.agents.find((a) => a.ip === address);
  }

  /** Runs a command on a host (in its network namespace) to completion. */
  exec(host: NetnsHost, file: string, args: string[], timeoutMs = 30_000): Promise<ExecResult> {
    return runIn(host.ns, file, args, timeoutMs);
  }

  /** `tessera ARGS` on a host, as a user there would run it; never throws for a non-zero exit. */
  tessera(host: NetnsHost, args: string[], timeoutMs = 60_000): Promise<CaptureResult> {
    return captureIn(host.ns, process.execPath, [CLI_JS, ...args], timeoutMs);
  }

  /** `serf members` as seen from a host. */
  async serfMembers(host: NetnsHost): Promise<SerfMember[]> {
    const { stdout } = await runIn(host.ns, 'serf', ['members', '-rpc-addr=127.0.0.1:7373']);
    return stdout.split('\n').filter((l) => l.trim()).map((line) => {
      const [name = '', address = '', status = '', tags = ''] = line.trim().split(/\s+/);
      const tagMap: Record<string, string> = {};
      for (const pair of tags.split(',').filter(Boolean)) {
        const [key = '', value = ''] = pair.split('=');
        tagMap[key] = value;
      }
      return { name, address, status, tags: tagMap };
    });
  }

  /** Pulls a host's cable out of the switch (its veth end in the switch namespace goes down). */
  async unplug(host: NetnsHost): Promise<void> {
    await ipIn(this.switchNs, 'link', 'set', host.switchPort, 'down');
  }

  async plug(host: NetnsHost): Promise<void> {
    await ipIn(this.switchNs, 'link', 'set', host.switchPort, 'up');
  }

  /**
   * Best effort, through the APIs: remove every services app and kill every task the masters know,
   * so the agents' own clean-up does the work; then tear everything down (teardown.ts).
   */
  async destroy(options: { keepDir?: boolean } = {}): Promise<void> {
    if (this.destroyed) return;
    try {
      await this.rememberAgentIds();
      await this.stopWorkloads();
    } catch {
      // the sweep below removes whatever is left
    }
    this.destroyed = true;
    this.progress(`tearing down run ${this.runId}`);
    await teardownRun(this.record, { keepDir: options.keepDir ?? Boolean(process.env.TESSERA_KEEP_TEST_DIRS), progress: this.progress });
    liveClusters.delete(this);
  }

  private async stopWorkloads(): Promise<void> {
    const apps = await this.http.tryJson<{ apps: Array<{ id: string }> }>(`${this.servicesUrl}/v2/apps`, { timeoutMs: 3_000 });
    for (const app of apps?.apps ?? []) {
      await this.http.json(`${this.servicesUrl}/v2/apps${app.id}?force=true`, { method: 'DELETE', timeoutMs: 3_000 }).catch(() => undefined);
    }
    const leader = await this.leader().catch(() => undefined);
    if (!leader) return;
    const list = async (): Promise<TaskView[]> =>
      (await this.http.json<{ tasks: TaskView[] }>(leader.url(PORTS.master, '/api/v1/tasks'), { timeoutMs: 3_000 })).tasks;
    for (const task of (await list()).filter((t) => !isTerminal(t.state))) {
      await this.http
        .json(leader.url(PORTS.master, `/api/v1/tasks/${encodeURIComponent(task.task_id)}`), { method: 'DELETE', timeoutMs: 3_000 })
        .catch(() => undefined);
    }
    await waitFor('every task to end', async () => ((await list()).every((t) => isTerminal(t.state)) ? true : undefined), 10_000, 250)
      .catch(() => undefined);
  }

  /** What is left of this run (empty once destroy() has done its work). */
  leftovers(): Promise<string[]> {
    return findLeftovers(this.record, { ignoreDir: Boolean(process.env.TESSERA_KEEP_TEST_DIRS) });
  }
}

/** This process's PATH plus the sbin dirs (ip, dnsmasq live there), whatever the caller's PATH lacks. */
function systemPath(): string {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const dir of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) if (!dirs.includes(dir)) dirs.push(dir);
  return dirs.join(':');
}

/** The cluster cannot come up (a process died, bring-up was aborted): polling stops at once. */
export class ClusterFailure extends Error {
  override name = 'ClusterFailure';
}

/** Polls `probe` until it returns a value; errors count as "not yet", except ClusterFailure, which ends the wait. */
async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof ClusterFailure) throw err;
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function cgroupsRoot(runId: string, host: NetnsHost): string {
  return `tessera-netns-${runId}-${host.name}`;
}

/** `slave(1)@10.77.0.12:5051` → `10.77.0.12`. */
export function slaveIp(pid: string): string | undefined {
  return /@([^:]+):\d+$/.exec(pid)?.[1];
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function assertNeverRole(role: never): never {
  throw new Error(`unknown role ${String(role)}`);
}

/**
 * Tears down every run whose owner process is gone (a crashed test, a killed `cli.js up`). Returns
 * the run ids it removed.
 */
export async function sweepStaleRuns(progress?: (message: string) => void): Promise<string[]> {
  const swept: string[] = [];
  for (const record of await listRecords()) {
    if (await ownerAlive(record)) continue;
    progress?.(`removing stale run ${record.runId} (owner ${record.ownerPid} is gone)`);
    await teardownRun(record, { graceMs: 3_000, ...(progress ? { progress } : {}) });
    swept.push(record.runId);
  }
  return swept;
}

/** Which real parts this machine lacks for a namespace cluster (empty: it has them all). */
export async function missingParts(): Promise<string[]> {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push('root (network namespaces)');
  const probes: Array<[string, string[], string]> = [
    ['ip', ['-V'], 'iproute2'],
    ['nsenter', ['--version'], 'nsenter (util-linux)'],
    ['serf', ['version'], 'serf (apt-get install serf)'],
    ['dnsmasq', ['--version'], 'dnsmasq (apt-get install dnsmasq-base)'],
    ['busybox', ['udhcpc', '--help'], 'busybox udhcpc (apt-get install busybox-static)'],
    ['java', ['-version'], 'java (apt-get install zookeeper)'],
  ];
  for (const [file, args, what] of probes) {
    // busybox applets print their help and exit 1: being found is what counts.
    await run(file, args, 10_000).catch((err: Error & { cause?: { code?: unknown } }) => {
      if (err.cause?.code === 'ENOENT') missing.push(what);
    });
  }
  for (const [path, what] of [
    [CLI_JS, 'the build (npm run build)'],
    [RELAY_JS, 'the build (npm run build)'],
    [join(SCRIPTS_DIR, 'tessera-serf'), 'vagrant/bin/tessera-serf'],
    [UDHCPC_SCRIPT, 'integration-tests/cluster/udhcpc-script.sh'],
    ['/usr/share/zookeeper', 'ZooKeeper (apt-get install zookeeper)'],
  ] as const) {
    if (!(await access(path).then(() => true, () => false))) missing.push(what);
  }
  return missing;
}
