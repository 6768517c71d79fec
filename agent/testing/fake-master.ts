// A fake master for agent tests: a plain node:http server that speaks the agent ↔ master protocol
// (register, heartbeat, status) and records everything, with switches to misbehave.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  INTERNAL_PATHS,
  closeHttpServer,
  listenHttp,
  requestJson,
  type AcknowledgeRequest,
  type RegisterRequest,
  type RegisterResponse,
  type TaskStatus,
} from '../../common/index.js';

export interface FakeMasterOptions {
  port?: number;
  heartbeatIntervalSeconds?: number;
  /** Id handed to an agent that registers without one. */
  newAgentId?: string;
  /** Agents known from the start (as if they had registered before). */
  knownAgents?: string[];
}

export class FakeMaster {
  readonly registrations: RegisterRequest[] = [];
  /** Every status update received, duplicates included, in arrival order. */
  readonly received: TaskStatus[] = [];
  readonly acknowledged: string[] = [];
  heartbeats = 0;
  /** Status POSTs answered 200, and the size of each batch among them. */
  statusRequests = 0;
  readonly batchSizes: number[] = [];
  /** Answer this many status updates with 503 before acknowledging again. */
  failStatusUpdates = 0;
  /**
   * Answer updates as `received` (forwarded to a framework) instead of `acknowledged`, as the real
   * master does for a framework's tasks: the agent then holds them until acknowledge() is called.
   */
  holdUpdates = false;
  /** Tasks to hand back in kill_task_ids on the next registration. */
  killOnRegister: string[] = [];
  private readonly known = new Set<string>();
  private readonly server: http.Server;
  private readonly options: FakeMasterOptions;

  private constructor(server: http.Server, options: FakeMasterOptions) {
    this.server = server;
    this.options = options;
    for (const id of options.knownAgents ?? []) this.known.add(id);
  }

  static async start(options: FakeMasterOptions = {}): Promise<FakeMaster> {
    const holder: { master?: FakeMaster } = {};
    const server = http.createServer((req, res) => {
      void holder.master?.handle(req, res);
    });
    const master = new FakeMaster(server, options);
    holder.master = master;
    await listenHttp(server, options.port ?? 0, '127.0.0.1');
    return master;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** 'host:port', as AgentOptions.master wants it. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Forget an agent: its heartbeats and updates get 404 AGENT_UNKNOWN until it registers again. */
  forget(agentId: string): void {
    this.known.delete(agentId);
  }

  /** Updates of one task, without duplicates, in first-arrival order. */
  statesOf(taskId: string): string[] {
    const seen = new Set<string>();
    const states: string[] = [];
    for (const u of this.received) {
      if (u.task_id !== taskId || seen.has(u.uuid)) continue;
      seen.add(u.uuid);
      states.push(u.state);
    }
    return states;
  }

  lastUpdate(taskId: string): TaskStatus | undefined {
    return [...this.received].reverse().find((u) => u.task_id === taskId);
  }

  /** What a framework's ACKNOWLEDGE makes the master do: relay it to the agent at `agentUrl`. */
  async acknowledge(agentUrl: string, acknowledgements: AcknowledgeRequest['acknowledgements']): Promise<void> {
    const body: AcknowledgeRequest = { acknowledgements };
    await requestJson(`${agentUrl}${INTERNAL_PATHS.acknowledge}`, { body });
  }

  /** How many times update `uuid` arrived (re-sends included). */
  timesReceived(uuid: string): number {
    return this.received.filter((u) => u.uuid === uuid).length;
  }

  stop(): Promise<void> {
    return closeHttpServer(this.server);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text === '' ? undefined : (JSON.parse(text) as unknown);
    const url = req.url ?? '';
    const send = (status: number, payload: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (req.method === 'POST' && url === INTERNAL_PATHS.register) {
      const request = body as RegisterRequest;
      this.registrations.push(request);
      const agentId = request.agent_id ?? this.options.newAgentId ?? 'agent-1';
      this.known.add(agentId);
      const response: RegisterResponse = {
        agent_id: agentId,
        master_id: 'fake-master',
        heartbeat_interval_seconds: this.options.heartbeatIntervalSeconds ?? 0.2,
        kill_task_ids: this.killOnRegister,
      };
      this.killOnRegister = [];
      send(200, response);
      return;
    }
    const heartbeat = /^\/internal\/v1\/agents\/([^/]+)\/heartbeat$/.exec(url);
    if (req.method === 'POST' && heartbeat) {
      if (!this.known.has(decodeURIComponent(heartbeat[1] ?? ''))) {
        send(404, { error: { code: 'AGENT_UNKNOWN', message: 'unknown agent' } });
        return;
      }
      this.heartbeats++;
      send(200, { ok: true });
      return;
    }
    const status = /^\/internal\/v1\/agents\/([^/]+)\/status$/.exec(url);
    if (req.method === 'POST' && status) {
      if (!this.known.has(decodeURIComponent(status[1] ?? ''))) {
        send(404, { error: { code: 'AGENT_UNKNOWN', message: 'unknown agent' } });
        return;
      }
      if (this.failStatusUpdates > 0) {
        this.failStatusUpdates--;
        send(503, { error: { code: 'UNAVAILABLE', message: 'try later' } });
        return;
      }
      this.statusRequests++;
      if ('updates' in (body as object)) {
        // The batch form: applied in order, every uuid acknowledged.
        const updates = (body as { updates: TaskStatus[] }).updates;
        this.batchSizes.push(updates.length);
        this.received.push(...updates);
        const uuids = updates.map((u) => u.uuid);
        if (this.holdUpdates) {
          send(200, { acknowledged: [], received: uuids });
          return;
        }
        this.acknowledged.push(...uuids);
        send(200, { acknowledged: uuids });
        return;
      }
      const update = (body as { update: TaskStatus }).update;
      this.received.push(update);
      if (this.holdUpdates) {
        send(200, { received: update.uuid });
        return;
      }
      this.acknowledged.push(update.uuid);
      send(200, { acknowledged: update.uuid });
      return;
    }
    send(404, { error: { code: 'NOT_FOUND', message: `no route for ${req.method} ${url}` } });
  }
}

/** A loopback port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const server = http.createServer();
  const port = await listenHttp(server, 0, '127.0.0.1');
  await closeHttpServer(server);
  return port;
}
