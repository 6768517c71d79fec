// Test helper for the master's HTTP tests: a tiny agent on node:http that speaks the internal protocol
// (register, heartbeat, status; answers launch and kill). The real agent has its own tests; the
// end-to-end tests run both for real.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  INTERNAL_PATHS,
  closeHttpServer,
  listenHttp,
  requestJson,
  type AcknowledgeRequest,
  type AgentInfo,
  type AgentTaskReport,
  type KillRequest,
  type LaunchRequest,
  type RegisterResponse,
  type Resources,
  type TaskInfo,
  type TaskReason,
  type TaskState,
  type TaskStatus,
} from '../../common/index.js';

export interface FakeAgentOptions {
  masterUrl: string;
  resources: Resources;
  executors?: string[];
  /** States to report right after a launch; default STARTING then RUNNING. */
  onLaunch?: TaskState[];
  /** --attributes as the agent registers them. */
  attributes?: AgentInfo['attributes'];
}

export class FakeAgent {
  agentId: string | undefined;
  port = 0;
  readonly launched: TaskInfo[] = [];
  readonly kills: Array<{ taskId: string; body: KillRequest }> = [];
  /** Acknowledgements the master passed on from frameworks. */
  readonly acknowledgements: Array<{ task_id: string; uuid: string }> = [];
  readonly tasks = new Map<string, { task: TaskInfo; status: TaskStatus }>();
  lastRegister: RegisterResponse | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly server: Server;

  private constructor(private readonly options: FakeAgentOptions) {
    this.server = createServer((req, res) => {
      void this.handle(req).then(
        ({ status, body }) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'INTERNAL', message: String(err) } }));
        },
      );
    });
  }

  static async start(options: FakeAgentOptions): Promise<FakeAgent> {
    const agent = new FakeAgent(options);
    agent.port = await listenHttp(agent.server, 0, '127.0.0.1');
    return agent;
  }

  get info(): AgentInfo {
    return {
      hostname: 'fake-agent',
      ip: '127.0.0.1',
      port: this.port,
      resources: this.options.resources,
      executors: this.options.executors ?? ['command'],
      isolation: 'posix',
      ...(this.options.attributes === undefined ? {} : { attributes: this.options.attributes }),
    };
  }

  /** Registers (or re-registers with the id it holds), reporting the tasks it has. */
  async register(extraTasks: AgentTaskReport[] = []): Promise<RegisterResponse> {
    const body = {
      ...(this.agentId === undefined ? {} : { agent_id: this.agentId }),
      info: this.info,
      tasks: [...this.tasks.values()].map(({ task, status }) => ({ task, status })).concat(extraTasks),
    };
    const response = await requestJson<RegisterResponse>(`${this.options.masterUrl}${INTERNAL_PATHS.register}`, { body });
    this.agentId = response.agent_id;
    this.lastRegister = response;
    for (const id of response.kill_task_ids) this.tasks.delete(id);
    return response;
  }

  heartbeat(): Promise<unknown> {
    return requestJson(`${this.options.masterUrl}${INTERNAL_PATHS.heartbeat(this.agentId ?? 'none')}`, { body: {} });
  }

  startHeartbeats(everyMs: number): void {
    this.stopHeartbeats();
    this.heartbeatTimer = setInterval(() => void this.heartbeat().catch(() => undefined), everyMs);
  }

  stopHeartbeats(): void {
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** Sends a status update for a task; resolves with the master's answer. */
  async sendStatus(
    taskId: string,
    state: TaskState,
    extra: { uuid?: string; reason?: TaskReason; message?: string; healthy?: boolean } = {},
  ): Promise<{ acknowledged?: string; received?: string }> {
    const known = this.tasks.get(taskId);
    // A launch can arrive before the register answer: the task itself carries the agent id.
    const agentId = known?.task.agent_id ?? this.agentId ?? 'none';
    const status: TaskStatus = {
      task_id: taskId,
      agent_id: agentId,
      state,
      source: 'SOURCE_EXECUTOR',
      timestamp: Date.now() / 1000,
      uuid: extra.uuid ?? randomUUID(),
      ...(extra.reason === undefined ? {} : { reason: extra.reason }),
      ...(extra.message === undefined ? {} : { message: extra.message }),
      ...(extra.healthy === undefined ? {} : { healthy: extra.healthy }),
    };
    if (known) known.status = status;
    return requestJson(`${this.options.masterUrl}${INTERNAL_PATHS.status(agentId)}`, {
      body: { update: status },
    });
  }

  /** Closes the HTTP server: launches to it are then refused. */
  async close(): Promise<void> {
    this.stopHeartbeats();
    if (!this.server.listening) return;
    await closeHttpServer(this.server);
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const text = Buffer.concat(chunks).toString('utf8');
    const body: unknown = text === '' ? {} : JSON.parse(text);
    if (req.method === 'POST' && req.url === INTERNAL_PATHS.launch) {
      const { task } = body as LaunchRequest;
      this.launched.push(task);
      this.tasks.set(task.task_id, {
        task,
        status: { task_id: task.task_id, state: 'TASK_STAGING', source: 'SOURCE_AGENT', timestamp: 0, uuid: randomUUID() },
      });
      // Report after answering, as a real agent does.
      setImmediate(() => void this.reportLaunch(task.task_id));
      return { status: 202, body: {} };
    }
    if (req.method === 'POST' && req.url === INTERNAL_PATHS.acknowledge) {
      this.acknowledgements.push(...(body as AcknowledgeRequest).acknowledgements);
      return { status: 200, body: { ok: true } };
    }
    const kill = /^\/internal\/v1\/tasks\/([^/]+)\/kill$/.exec(req.url ?? '');
    if (req.method === 'POST' && kill) {
      const taskId = decodeURIComponent(kill[1] ?? '');
      this.kills.push({ taskId, body: body as KillRequest });
      setImmediate(() => {
        void (async () => {
          await this.sendStatus(taskId, 'TASK_KILLING');
          await this.sendStatus(taskId, 'TASK_KILLED');
          this.tasks.delete(taskId);
        })().catch(() => undefined);
      });
      return { status: 202, body: {} };
    }
    return { status: 404, body: { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url}` } } };
  }

  private async reportLaunch(taskId: string): Promise<void> {
    for (const state of this.options.onLaunch ?? ['TASK_STARTING', 'TASK_RUNNING']) {
      await this.sendStatus(taskId, state).catch(() => undefined);
    }
  }
}
