// A real Tessera cluster for end-to-end tests: one standalone master and N agents as processes,
// each agent with its own work dir and cgroups root; stop() leaves nothing behind.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  isTerminal,
  requestJson,
  type TaskState,
  type TaskStatisticsEntry,
  type TaskSubmission,
  type TaskView,
} from '../../common/index.js';
import { Daemon } from './daemon.js';
import { freePort } from './ports.js';
import { removeCgroups, removeContainers } from './cleanup.js';
import { waitFor } from './wait.js';

export const TEST_IMAGE = process.env.TESSERA_TEST_IMAGE ?? 'tessera-test/busybox:latest';

export interface ClusterOptions {
  agents?: number;
  agentTimeout?: string;
  /** Extra flags for every agent. */
  agentArgs?: string[];
}

export class TestAgent {
  daemon: Daemon | undefined;
  constructor(
    readonly index: number,
    readonly port: number,
    readonly workDir: string,
    readonly cgroupsRoot: string,
    private readonly args: string[],
    private readonly logDir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.daemon = await Daemon.start(`agent${this.index}`, this.args, this.url, this.logDir);
  }

  async statistics(): Promise<TaskStatisticsEntry[]> {
    return requestJson<TaskStatisticsEntry[]>(`${this.url}/monitor/statistics`);
  }
}

export class TestCluster {
  readonly agents: TestAgent[] = [];
  master: Daemon | undefined;
  private knownAgentIds = new Set<string>();

  private constructor(
    readonly baseDir: string,
    readonly masterPort: number,
    private readonly masterArgs: string[],
  ) {}

  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const baseDir = await mkdtemp(join(tmpdir(), 'tessera-it-'));
    const masterPort = await freePort();
    const masterArgs = ['master', '--host', '127.0.0.1', '--port', String(masterPort), '--work-dir', join(baseDir, 'master'),
      '--agent-timeout', options.agentTimeout ?? '30s'];
    const cluster = new TestCluster(baseDir, masterPort, masterArgs);
    try {
      await cluster.startMaster();
      for (let i = 0; i < (options.agents ?? 1); i++) {
        const port = await freePort();
        const cgroupsRoot = `tessera-it-${randomBytes(4).toString('hex')}`;
        const workDir = join(baseDir, `agent${i}`);
        const args = ['agent', '--master', `127.0.0.1:${masterPort}`, '--host', '127.0.0.1', '--port', String(port),
          '--work-dir', workDir, '--cgroups-root', cgroupsRoot, '--isolation', 'cgroups', ...(options.agentArgs ?? [])];
        const agent = new TestAgent(i, port, workDir, cgroupsRoot, args, baseDir);
        cluster.agents.push(agent);
        await agent.start();
      }
      await cluster.waitForAgents(cluster.agents.length);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get masterUrl(): string {
    return `http://127.0.0.1:${this.masterPort}`;
  }

  async startMaster(): Promise<void> {
    this.master = await Daemon.start('master', this.masterArgs, this.masterUrl, this.baseDir);
  }

  async state(): Promise<MasterState> {
    return requestJson<MasterState>(`${this.masterUrl}/master/state`);
  }

  async waitForAgents(count: number, timeoutMs = 20_000): Promise<MasterState> {
    return waitFor(`${count} active agents`, async () => {
      const state = await this.state();
      for (const slave of state.slaves) this.knownAgentIds.add(slave.id);
      return state.slaves.filter((s) => s.active).length >= count ? state : undefined;
    }, timeoutMs);
  }

  async submit(body: TaskSubmission): Promise<TaskView> {
    return requestJson<TaskView>(`${this.masterUrl}/api/v1/tasks`, { body });
  }

  async task(taskId: string): Promise<TaskView> {
    return requestJson<TaskView>(`${this.masterUrl}/api/v1/tasks/${encodeURIComponent(taskId)}`);
  }

  async kill(taskId: string): Promise<void> {
    await requestJson(`${this.masterUrl}/api/v1/tasks/${encodeURIComponent(taskId)}`, { method: 'DELETE' });
  }

  /** Waits until the task is in one of `states`; fails at once if it ends in another terminal state. */
  async waitForState(taskId: string, states: TaskState[], timeoutMs = 30_000): Promise<TaskView> {
    const view = await waitFor(`task ${taskId} in ${states.join('|')}`, async () => {
      const current = await this.task(taskId);
      return states.includes(current.state) || isTerminal(current.state) ? current : undefined;
    }, timeoutMs);
    if (!states.includes(view.state)) {
      throw new Error(`task ${taskId} ended ${view.state} (${view.reason ?? ''}: ${view.message ?? ''})`);
    }
    return view;
  }

  async stop(): Promise<void> {
    // Kill every task the master knows, so that nothing outlives the test; then stop the daemons.
    try {
      const state = await this.state();
      for (const slave of state.slaves) this.knownAgentIds.add(slave.id);
      const { tasks } = await requestJson<{ tasks: TaskView[] }>(`${this.masterUrl}/api/v1/tasks`);
      const live = tasks.filter((t) => !isTerminal(t.state));
      await Promise.all(live.map((t) => this.kill(t.task_id).catch(() => undefined)));
      await waitFor('all tasks terminal', async () => {
        const { tasks: now } = await requestJson<{ tasks: TaskView[] }>(`${this.masterUrl}/api/v1/tasks`);
        return now.every((t) => isTerminal(t.state)) ? true : undefined;
      }, 15_000).catch(() => undefined);
    } catch {
      // the master may be gone already; the sweep below still cleans up
    }
    for (const agent of this.agents) await agent.daemon?.stop();
    await this.master?.stop();
    await removeContainers([...this.knownAgentIds]);
    for (const agent of this.agents) await removeCgroups(agent.cgroupsRoot);
    if (!process.env.TESSERA_KEEP_TEST_DIRS) await rm(this.baseDir, { recursive: true, force: true });
  }
}


/** The parts of `GET /master/state` the tests read. */
export interface MasterState {
  leader: string;
  slaves: Array<{ id: string; hostname: string; active: boolean; resources: { cpus: number; mem: number } }>;
  frameworks: Array<{ id: string; tasks: Array<{ id: string; state: TaskState }> }>;
}
