// A small typed client of the master's and agents' HTTP APIs, over common's requestJson. It turns
// "nothing answered" into a CliError naming the address, so every command reports it the same way.
import {
  RemoteError,
  TesseraError,
  findLeader,
  leaderAddress,
  requestJson,
  type RequestOptions,
  type Resources,
  type TaskState,
  type TaskStatisticsEntry,
  type TaskSubmission,
  type TaskView,
} from '../common/index.js';
import { parseMasterAddress, type Address, type MasterTarget } from './args.js';
import { CliError, EXIT } from './errors.js';

const REQUEST_TIMEOUT_MS = 10_000;

/** The parts of the master's `GET /master/state` the CLI reads. */
export interface MasterState {
  id: string;
  hostname?: string;
  leader?: string;
  slaves: MasterStateAgent[];
}

export interface MasterStateAgent {
  id: string;
  /** `slave(1)@ip:port` */
  pid: string;
  hostname: string;
  port?: number;
  resources: Partial<Resources>;
  used_resources?: Partial<Resources>;
  active: boolean;
  registered_time?: number;
}

/** One task of an agent's `GET /state`. */
export interface AgentStateTask {
  id: string;
  name: string;
  state: TaskState;
  directory?: string;
}

export interface AgentState {
  id?: string;
  hostname?: string;
  tasks: AgentStateTask[];
  completed_tasks: AgentStateTask[];
}

/** Mesos `/files/read` answer. */
export interface FileChunk {
  data: string;
  offset: number;
}

/** fetch says only "fetch failed"; the useful part (ECONNREFUSED, a timeout) sits further down the causes. */
function rootCause(err: RemoteError): string {
  let current: unknown = err.cause;
  let best = err.peerMessage;
  for (let depth = 0; current instanceof Error && depth < 5; depth += 1) {
    const code = (current as Error & { code?: unknown }).code;
    if (current.name === 'TimeoutError') best = 'timed out';
    else if (typeof code === 'string') best = DESCRIBED_CODES[code] ?? code;
    else if (depth > 0 && current.message !== '') best = current.message; // e.g. fetch's "bad port"
    current = current.cause;
  }
  return best;
}

const DESCRIBED_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'timed out',
};

class HttpPeer {
  constructor(
    private readonly resolve: () => Promise<Address>,
    private readonly what: string,
  ) {}

  protected async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const address = await this.resolve();
    try {
      return await requestJson<T>(`${address.url}${path}`, { timeoutMs: REQUEST_TIMEOUT_MS, ...options });
    } catch (err) {
      if (err instanceof RemoteError && err.code === 'UNREACHABLE') {
        throw new CliError(`cannot reach the ${this.what} at ${address.hostPort} (${rootCause(err)})`, EXIT.failed, {
          cause: err,
          retryable: true,
        });
      }
      throw err;
    }
  }
}

/** How long a zk:// --master waits for ZooKeeper to name a leader. */
const LEADER_LOOKUP_TIMEOUT_MS = 10_000;

/**
 * The leading master's address. A zk:// target is looked up in ZooKeeper on every call, so a client
 * that retries after a failover (tessera run following a task) reaches the new leader.
 */
async function resolveMaster(target: MasterTarget): Promise<Address> {
  if (target.kind === 'address') return target.address;
  try {
    const leader = await findLeader(target.raw, { timeoutMs: LEADER_LOOKUP_TIMEOUT_MS, connectTimeoutMs: LEADER_LOOKUP_TIMEOUT_MS });
    return parseMasterAddress(leaderAddress(leader));
  } catch (err) {
    const message = err instanceof TesseraError ? err.message : String(err);
    throw new CliError(`cannot find the leading master in ZooKeeper ${target.text}: ${message}`, EXIT.failed, { cause: err, retryable: true });
  }
}

export class MasterClient extends HttpPeer {
  constructor(readonly target: MasterTarget) {
    super(() => resolveMaster(target), 'master');
  }

  submitTask(submission: TaskSubmission): Promise<TaskView> {
    return this.request<TaskView>('/api/v1/tasks', { method: 'POST', body: submission });
  }

  getTask(taskId: string): Promise<TaskView> {
    return this.request<TaskView>(`/api/v1/tasks/${encodeURIComponent(taskId)}`);
  }

  /** The task once it has more than `index` statuses (a blocking read), or after `waitSeconds` as it is. */
  waitTask(taskId: string, index: number, waitSeconds: number): Promise<TaskView> {
    return this.request<TaskView>(`/api/v1/tasks/${encodeURIComponent(taskId)}?index=${index}&wait=${waitSeconds}`, {
      timeoutMs: REQUEST_TIMEOUT_MS + waitSeconds * 1000,
    });
  }

  async listTasks(): Promise<TaskView[]> {
    const body = await this.request<{ tasks?: TaskView[] }>('/api/v1/tasks');
    return body.tasks ?? [];
  }

  killTask(taskId: string): Promise<TaskView> {
    return this.request<TaskView>(`/api/v1/tasks/${encodeURIComponent(taskId)}`, { method: 'DELETE' });
  }

  async state(): Promise<MasterState> {
    const state = await this.request<MasterState>('/master/state');
    return { ...state, slaves: state.slaves ?? [] };
  }
}

export class AgentClient extends HttpPeer {
  constructor(readonly address: Address) {
    super(() => Promise.resolve(address), 'agent');
  }

  async state(): Promise<AgentState> {
    const state = await this.request<Partial<AgentState>>('/state');
    return { ...state, tasks: state.tasks ?? [], completed_tasks: state.completed_tasks ?? [] };
  }

  statistics(): Promise<TaskStatisticsEntry[]> {
    return this.request<TaskStatisticsEntry[]>('/monitor/statistics');
  }

  /** `offset = -1` asks only for the file's size (answered as `offset`). */
  readFile(path: string, offset: number, length?: number): Promise<FileChunk> {
    const query = new URLSearchParams({ path, offset: String(offset) });
    if (length !== undefined) query.set('length', String(length));
    return this.request<FileChunk>(`/files/read?${query.toString()}`);
  }
}

/** True when `err` is the peer answering with `status`. */
export function isStatus(err: unknown, status: number): err is RemoteError {
  return err instanceof RemoteError && err.status === status;
}
