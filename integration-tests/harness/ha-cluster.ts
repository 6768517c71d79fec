// A highly available Tessera cluster for end-to-end tests: a real ZooKeeper, several masters contending
// through it, and agents that find the leader in it — all real processes; stop() leaves nothing behind.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { RemoteError, errorMessage, isTerminal, requestJson, type TaskState, type TaskSubmission, type TaskView } from '../../common/index.js';
import { TestAgent, type MasterState } from './cluster.js';
import { Daemon } from './daemon.js';
import { freePort } from './ports.js';
import { removeCgroups, removeContainers } from './cleanup.js';
import { waitFor } from './wait.js';
import { ZooKeeperServer } from './zookeeper.js';

export interface HaClusterOptions {
  masters?: number;
  agents?: number;
  /** --zk-session-timeout of masters and agents; default '2s' (the harness's ZooKeeper allows ≥ 400 ms). */
  sessionTimeout?: string;
  agentReregisterTimeout?: string;
  /** ZooKeeper path; default '/tessera'. */
  zkPath?: string;
  /** Extra flags for every agent. */
  agentArgs?: string[];
}

export class TestMaster {
  daemon: Daemon | undefined;
  constructor(
    readonly index: number,
    readonly port: number,
    private readonly args: string[],
    private readonly logDir: string,
  ) {}

  get name(): string {
    return `master${this.index}`;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.daemon?.running ?? false;
  }

  async start(): Promise<void> {
    this.daemon = await Daemon.start(this.name, this.args, this.url, this.logDir);
  }

  /** `master/elected` from /metrics/snapshot; undefined when it does not answer. */
  async elected(): Promise<boolean | undefined> {
    try {
      const snapshot = await requestJson<Record<string, number>>(`${this.url}/metrics/snapshot`, { timeoutMs: 2000 });
      return snapshot['master/elected'] === 1;
    } catch {
      return undefined;
    }
  }
}

export class HaCluster {
  readonly masters: TestMaster[] = [];
  readonly agents: TestAgent[] = [];
  private readonly knownAgentIds = new Set<string>();

  private constructor(
    readonly baseDir: string,
    readonly zk: ZooKeeperServer,
    readonly zkUrl: string,
    readonly options: HaClusterOptions,
  ) {}

  static async start(options: HaClusterOptions = {}): Promise<HaCluster> {
    const baseDir = await mkdtemp(join(tmpdir(), 'tessera-ha-'));
    const zk = await ZooKeeperServer.start();
    const cluster = new HaCluster(baseDir, zk, zk.url(options.zkPath ?? '/tessera'), options);
    try {
      for (let i = 0; i < (options.masters ?? 3); i++) await cluster.addMaster();
      await cluster.waitForLeader();
      for (let i = 0; i < (options.agents ?? 2); i++) await cluster.addAgent();
      await cluster.waitForAgents(cluster.agents.length);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  async addMaster(): Promise<TestMaster> {
    const port = await freePort();
    const index = this.masters.length;
    const args = ['master', '--zk', this.zkUrl, '--host', '127.0.0.1', '--port', String(port),
      '--work-dir', join(this.baseDir, `master${index}`), '--zk-session-timeout', this.options.sessionTimeout ?? '2s',
      '--agent-reregister-timeout', this.options.agentReregisterTimeout ?? '60s', '--heartbeat-interval', '1s'];
    const master = new TestMaster(index, port, args, this.baseDir);
    this.masters.push(master);
    await master.start();
    return master;
  }

  async addAgent(): Promise<TestAgent> {
    const port = await freePort();
    const index = this.agents.length;
    const cgroupsRoot = `tessera-it-${randomBytes(4).toString('hex')}`;
    const workDir = join(this.baseDir, `agent${index}`);
    const args = ['agent', '--master', this.zkUrl, '--host', '127.0.0.1', '--port', String(port),
      '--work-dir', workDir, '--cgroups-root', cgroupsRoot, '--isolation', 'cgroups', ...(this.options.agentArgs ?? [])];
    const agent = new TestAgent(index, port, workDir, cgroupsRoot, args, this.baseDir);
    this.agents.push(agent);
    await agent.start();
    return agent;
  }

  /** Which running masters say they lead, asked all at once. */
  async electedMasters(): Promise<TestMaster[]> {
    const running = this.masters.filter((m) => m.running);
    const answers = await Promise.all(running.map((m) => m.elected()));
    return running.filter((_, i) => answers[i] === true);
  }

  /** The one master that leads (fails if two ever do). */
  async waitForLeader(timeoutMs = 20_000, except?: TestMaster): Promise<TestMaster> {
    return waitFor('one leading master', async () => {
      const elected = await this.electedMasters();
      if (elected.length > 1) throw new Error(`two masters lead at once: ${elected.map((m) => m.name).join(', ')}`);
      const leader = elected[0];
      return leader && leader !== except ? leader : undefined;
    }, timeoutMs);
  }

  /** Any running master: a follower redirects (307) to the leader, which requestJson follows. */
  private entry(): string {
    const master = this.masters.find((m) => m.running);
    if (!master) throw new Error('no master is running');
    return master.url;
  }

  async leaderUrl(): Promise<string> {
    return (await this.waitForLeader()).url;
  }

  async state(): Promise<MasterState> {
    return requestJson<MasterState>(`${await this.leaderUrl()}/master/state`);
  }

  async waitForAgents(count: number, timeoutMs = 20_000): Promise<MasterState> {
    return waitFor(`${count} active agents`, async () => {
      const state = await this.state().catch(() => undefined);
      if (!state) return undefined;
      for (const slave of state.slaves) this.knownAgentIds.add(slave.id);
      return state.slaves.filter((s) => s.active).length >= count ? state : undefined;
    }, timeoutMs);
  }

  async submit(body: TaskSubmission): Promise<TaskView> {
    return requestJson<TaskView>(`${this.entry()}/api/v1/tasks`, { body });
  }

  /**
   * Asked through any master, as a client would. Right after an election a follower may not know
   * the new leader yet and answers 503 ("retry shortly"): retried, as the contract asks of clients.
   */
  /**
   * The task, read through any running master (a follower redirects to the leader). A 503 (this master
   * does not know a leader, or the leader is settling) moves on to the next master, as a client that
   * was given every master's address does; the answers seen are in the timeout's message.
   */
  async task(taskId: string): Promise<TaskView> {
    let turn = 0;
    const refusals = new Map<string, string>();
    try {
      return await waitFor(`task ${taskId} from a master that knows the leader`, async () => {
        const running = this.masters.filter((m) => m.running);
        if (running.length === 0) throw new Error('no master is running');
        const master = running[turn++ % running.length]!;
        try {
          return await requestJson<TaskView>(`${master.url}/api/v1/tasks/${encodeURIComponent(taskId)}`);
        } catch (err) {
          if (err instanceof RemoteError && err.status === 503) {
            refusals.set(master.url, err.message);
            return undefined;
          }
          throw err;
        }
      }, 15_000);
    } catch (err) {
      const seen = [...refusals].map(([url, message]) => `${url}: ${message}`).join('; ');
      throw new Error(`${errorMessage(err)} (last 503 of each master: ${seen})`, { cause: err });
    }
  }

  async waitForState(taskId: string, states: TaskState[], timeoutMs = 30_000): Promise<TaskView> {
    const view = await waitFor(`task ${taskId} in ${states.join('|')}`, async () => {
      const current = await this.task(taskId).catch(() => undefined);
      if (!current) return undefined;
      return states.includes(current.state) || isTerminal(current.state) ? current : undefined;
    }, timeoutMs);
    if (!states.includes(view.state)) {
      throw new Error(`task ${taskId} ended ${view.state} (${view.reason ?? ''}: ${view.message ?? ''})`);
    }
    return view;
  }

  /** Every task every running agent has, by task id → how many agents run it (and in which state). */
  async agentTasks(): Promise<Map<string, string[]>> {
    const seen = new Map<string, string[]>();
    for (const agent of this.agents) {
      if (!agent.daemon?.running) continue;
      const state = await requestJson<{ tasks: Array<{ id: string; state: string }> }>(`${agent.url}/state`);
      for (const task of state.tasks) seen.set(task.id, [...(seen.get(task.id) ?? []), task.state]);
    }
    return seen;
  }

  async stop(): Promise<void> {
    try {
      const url = (await this.waitForLeader(5000)).url;
      const state = await requestJson<MasterState>(`${url}/master/state`);
      for (const slave of state.slaves) this.knownAgentIds.add(slave.id);
      const { tasks } = await requestJson<{ tasks: TaskView[] }>(`${url}/api/v1/tasks`);
      await Promise.all(
        tasks
          .filter((t) => !isTerminal(t.state))
          .map((t) => requestJson(`${url}/api/v1/tasks/${encodeURIComponent(t.task_id)}`, { method: 'DELETE' }).catch(() => undefined)),
      );
      await waitFor('all tasks terminal', async () => {
        const { tasks: now } = await requestJson<{ tasks: TaskView[] }>(`${url}/api/v1/tasks`);
        return now.every((t) => isTerminal(t.state)) ? true : undefined;
      }, 15_000).catch(() => undefined);
    } catch {
      // no leader any more: the sweep below still cleans up
    }
    for (const agent of this.agents) await agent.daemon?.stop();
    for (const master of this.masters) await master.daemon?.stop();
    await this.zk.destroy();
    // Agents' own tasks: whatever is left in their cgroups or containers goes.
    await removeContainers([...this.knownAgentIds]);
    for (const agent of this.agents) await removeCgroups(agent.cgroupsRoot);
    if (!process.env.TESSERA_KEEP_TEST_DIRS) await rm(this.baseDir, { recursive: true, force: true });
  }
}
