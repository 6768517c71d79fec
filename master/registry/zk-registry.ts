// Registry in ZooKeeper, for masters that fail over to each other. It must hold 10,000+ agents, but a
// znode holds at most ~1 MB and so does one request, so entries are spread over shards:
//   <base>/registry                                 {"version":1,"shards":64}  (fixed at first use)
//   <base>/registry/agents/<NN>                     {"version":1,"entries":[AdmittedAgent...]}
//   <base>/registry/frameworks/<NN>                 {"version":1,"entries":[FrameworkRecord...]}
//   <base>/frameworks/tessera-tasks/tasks/<NN>      {"version":1,"entries":[TaskRecord...]}
// An entry's shard is FNV-1a(id) mod shards, so it never moves. A save writes only the shards whose
// JSON changed, in one multi-op transaction that also checks the leader's election znode (fencing):
// once a master is deposed its session and znode are gone, so its late writes fail.
import type { JSONSchemaType } from 'ajv';
import {
  compileValidator,
  errorMessage,
  type Logger,
  type Validator,
  type ZkOp,
  type ZkSession,
} from '../../common/index.js';
import { RegistryError } from '../errors.js';
import type { AdmittedAgent, FrameworkRecord, Registry, RegistryState, TaskRecord } from './registry.js';
import { admittedAgentSchema, frameworkRecordSchema, taskRecordSchema } from './schemas.js';

const FORMAT_VERSION = 1;
export const DEFAULT_REGISTRY_SHARDS = 64;
/** Above this much changed data a save is split over several transactions (ZooKeeper's ~1 MB request limit). */
const TRANSACTION_BUDGET_BYTES = 800 * 1024;
/** A single znode over this cannot be written at all (jute.maxbuffer is 1 MiB including overhead). */
const ZNODE_LIMIT_BYTES = 1_000_000;

export interface ZkRegistryOptions {
  /** The leader's session (the registry does not own it: close() leaves it open). */
  session: ZkSession;
  /** The master's ZooKeeper path, e.g. '/tessera'. */
  basePath: string;
  /** The leader's election znode; every save checks it still exists. */
  fencePath?: string;
  /** Shards per kind when the registry is first made; afterwards the stored count wins. Default 64. */
  shards?: number;
  logger: Logger;
}

interface RegistryRoot {
  version: typeof FORMAT_VERSION;
  shards: number;
}

interface Shard<T> {
  version: typeof FORMAT_VERSION;
  entries: T[];
}

/** What we last read or wrote at one shard path: undefined json = no such znode. */
interface Known {
  json: string | undefined;
  version: number;
}

const rootSchema: JSONSchemaType<RegistryRoot> = {
  type: 'object',
  properties: {
    version: { type: 'integer', const: FORMAT_VERSION },
    shards: { type: 'integer', minimum: 1, maximum: 10_000 },
  },
  required: ['version', 'shards'],
  additionalProperties: false,
};

function shardSchema<T>(entry: JSONSchemaType<T>): JSONSchemaType<Shard<T>> {
  return {
    type: 'object',
    properties: {
      version: { type: 'integer', const: FORMAT_VERSION },
      entries: { type: 'array', items: entry },
    },
    required: ['version', 'entries'],
    additionalProperties: false,
  } as JSONSchemaType<Shard<T>>;
}

let validateRoot: Validator<RegistryRoot> | undefined;
let validateAgentShard: Validator<Shard<AdmittedAgent>> | undefined;
let validateTaskShard: Validator<Shard<TaskRecord>> | undefined;
let validateFrameworkShard: Validator<Shard<FrameworkRecord>> | undefined;

/** FNV-1a (32 bit) of the UTF-8 bytes: stable across processes and versions, unlike any runtime hash. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export class ZkRegistry implements Registry {
  readonly rootPath: string;
  readonly agentsPath: string;
  readonly tasksPath: string;
  readonly frameworksPath: string;
  /** Per shard path, what ZooKeeper holds as far as we know; undefined until read (or after a failed save). */
  private known: Map<string, Known> | undefined;
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly options: ZkRegistryOptions,
    readonly shards: number,
  ) {
    const base = options.basePath.replace(/\/+$/, '');
    this.rootPath = `${base}/registry`;
    this.agentsPath = `${base}/registry/agents`;
    this.tasksPath = `${base}/frameworks/tessera-tasks/tasks`;
    this.frameworksPath = `${base}/registry/frameworks`;
  }

  /** Makes the layout when missing (ACL 'private') and reads the shard count a first run recorded. */
  static async create(options: ZkRegistryOptions): Promise<ZkRegistry> {
    const { session, logger } = options;
    const base = options.basePath.replace(/\/+$/, '');
    const rootPath = `${base}/registry`;
    const wanted = options.shards ?? DEFAULT_REGISTRY_SHARDS;
    if (!Number.isInteger(wanted) || wanted < 1 || wanted > 10_000) {
      throw new RegistryError(`shards must be an integer from 1 to 10000, not ${wanted}`);
    }
    try {
      // The base is shared with the election, whose znodes everyone must read.
      await session.mkdirp(base, 'world-read');
      const shards = await ZkRegistry.shardCount(session, rootPath, wanted, logger);
      await session.mkdirp(`${rootPath}/agents`, 'private');
      await session.mkdirp(`${rootPath}/frameworks`, 'private');
      await session.mkdirp(`${base}/frameworks/tessera-tasks/tasks`, 'private');
      return new ZkRegistry(options, shards);
    } catch (err) {
      if (err instanceof RegistryError) throw err;
      throw new RegistryError(`cannot prepare the registry at ${rootPath} in ZooKeeper: ${errorMessage(err)}`, {
        cause: err,
        retryable: isRetryable(err),
      });
    }
  }

  private static async shardCount(session: ZkSession, rootPath: string, wanted: number, logger: Logger): Promise<number> {
    const rootData = Buffer.from(JSON.stringify({ version: FORMAT_VERSION, shards: wanted } satisfies RegistryRoot));
    for (let attempt = 0; attempt < 3; attempt++) {
      const node = await session.getData(rootPath);
      if (node === undefined) {
        try {
          await session.create(rootPath, rootData, 'persistent', 'private');
          return wanted;
        } catch (err) {
          if (codeOf(err) === 'ZK_NODE_EXISTS') continue; // another master made it meanwhile: read it
          throw err;
        }
      }
      if (node.data.length === 0) {
        // Made as a bare parent (mkdirp) before any registry wrote its record.
        await session.transaction([{ op: 'set', path: rootPath, data: rootData, version: node.version }]);
        return wanted;
      }
      let root: RegistryRoot;
      try {
        validateRoot ??= compileValidator(rootSchema);
        root = validateRoot(JSON.parse(node.data.toString('utf8')));
      } catch (err) {
        throw new RegistryError(`${rootPath} does not hold a registry record: ${errorMessage(err)}`, { cause: err });
      }
      if (root.shards !== wanted) {
        logger.warn({ stored: root.shards, wanted }, 'the registry keeps the shard count it was made with');
      }
      return root.shards;
    }
    throw new RegistryError(`${rootPath} keeps changing while being read`, { retryable: true });
  }

  /** The shard path holding the entry with this id. */
  agentShardPath(id: string): string {
    return this.shardPath(this.agentsPath, fnv1a32(id) % this.shards);
  }

  taskShardPath(taskId: string): string {
    return this.shardPath(this.tasksPath, fnv1a32(taskId) % this.shards);
  }

  load(): Promise<RegistryState> {
    return this.serialize(() => this.read());
  }

  save(state: RegistryState): Promise<void> {
    return this.serialize(() => this.write(state));
  }

  /** Nothing to release: the session belongs to the contender. */
  async close(): Promise<void> {
    await this.chain.catch(() => undefined);
  }

  private serialize<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private shardPath(dir: string, index: number): string {
    const width = Math.max(2, String(this.shards - 1).length);
    return `${dir}/${String(index).padStart(width, '0')}`;
  }

  private allShardPaths(): string[] {
    const paths: string[] = [];
    for (let i = 0; i < this.shards; i++) paths.push(this.shardPath(this.agentsPath, i));
    for (let i = 0; i < this.shards; i++) paths.push(this.shardPath(this.tasksPath, i));
    for (let i = 0; i < this.shards; i++) paths.push(this.shardPath(this.frameworksPath, i));
    return paths;
  }

  /** Reads every shard at once; `known` is updated only when all reads succeed. */
  private async readAll(): Promise<Map<string, Known>> {
    const paths = this.allShardPaths();
    let nodes;
    try {
      nodes = await Promise.all(paths.map((path) => this.options.session.getData(path)));
    } catch (err) {
      throw new RegistryError(`cannot read the registry under ${this.rootPath}: ${errorMessage(err)}`, {
        cause: err,
        retryable: isRetryable(err),
      });
    }
    const known = new Map<string, Known>();
    paths.forEach((path, i) => {
      const node = nodes[i];
      known.set(path, node === undefined ? { json: undefined, version: -1 } : { json: node.data.toString('utf8'), version: node.version });
    });
    return known;
  }

  private async read(): Promise<RegistryState> {
    const known = await this.readAll();
    const agents: AdmittedAgent[] = [];
    const tasks: TaskRecord[] = [];
    const frameworks: FrameworkRecord[] = [];
    validateAgentShard ??= compileValidator(shardSchema(admittedAgentSchema));
    validateTaskShard ??= compileValidator(shardSchema(taskRecordSchema));
    validateFrameworkShard ??= compileValidator(shardSchema(frameworkRecordSchema));
    for (const [path, { json }] of known) {
      if (json === undefined) continue;
      const isAgents = path.startsWith(`${this.agentsPath}/`);
      const isFrameworks = path.startsWith(`${this.frameworksPath}/`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(json);
      } catch (err) {
        // Never start with an empty (or partial) registry over a damaged one: that forgets agents.
        throw new RegistryError(`registry shard ${path} is not valid JSON: ${errorMessage(err)}`, { cause: err });
      }
      try {
        if (isAgents) agents.push(...validateAgentShard(parsed).entries);
        else if (isFrameworks) frameworks.push(...validateFrameworkShard(parsed).entries);
        else tasks.push(...validateTaskShard(parsed).entries);
      } catch (err) {
        throw new RegistryError(`registry shard ${path} is damaged: ${errorMessage(err)}`, { cause: err });
      }
    }
    agents.sort((a, b) => a.registered_at - b.registered_at || compareText(a.id, b.id));
    tasks.sort((a, b) => a.submitted_at - b.submitted_at || compareText(a.task_id, b.task_id));
    frameworks.sort((a, b) => a.registered_at - b.registered_at || compareText(a.id, b.id));
    this.known = known;
    return { agents, tasks, frameworks };
  }

  /** The JSON each shard path should hold for `state` (every shard, empty ones included). */
  private render(state: RegistryState): Map<string, string> {
    const agentShards: AdmittedAgent[][] = Array.from({ length: this.shards }, () => []);
    const taskShards: TaskRecord[][] = Array.from({ length: this.shards }, () => []);
    const frameworkShards: FrameworkRecord[][] = Array.from({ length: this.shards }, () => []);
    for (const agent of state.agents) agentShards[fnv1a32(agent.id) % this.shards]?.push(agent);
    for (const task of state.tasks) taskShards[fnv1a32(task.task_id) % this.shards]?.push(task);
    for (const framework of state.frameworks) frameworkShards[fnv1a32(framework.id) % this.shards]?.push(framework);
    const out = new Map<string, string>();
    // Sorted by id inside a shard, so the same content always renders the same string whatever
    // order the caller keeps (a reorder alone must not cost a write).
    agentShards.forEach((entries, i) => {
      entries.sort((a, b) => compareText(a.id, b.id));
      out.set(this.shardPath(this.agentsPath, i), JSON.stringify({ version: FORMAT_VERSION, entries }));
    });
    taskShards.forEach((entries, i) => {
      entries.sort((a, b) => compareText(a.task_id, b.task_id));
      out.set(this.shardPath(this.tasksPath, i), JSON.stringify({ version: FORMAT_VERSION, entries }));
    });
    frameworkShards.forEach((entries, i) => {
      entries.sort((a, b) => compareText(a.id, b.id));
      out.set(this.shardPath(this.frameworksPath, i), JSON.stringify({ version: FORMAT_VERSION, entries }));
    });
    return out;
  }

  private async write(state: RegistryState): Promise<void> {
    let rendered: Map<string, string>;
    try {
      rendered = this.render(state);
    } catch (err) {
      throw new RegistryError(`cannot serialise the registry: ${errorMessage(err)}`, { cause: err });
    }
    // After a failed save (or before any load) we do not know what ZooKeeper holds: read it again.
    const known = this.known ?? (await this.readAll());
    this.known = known;

    const changes: { path: string; json: string; op: ZkOp; bytes: number }[] = [];
    for (const [path, json] of rendered) {
      const current = known.get(path);
      if (current?.json === json) continue;
      if (current?.json === undefined && json.length <= EMPTY_SHARD_LENGTH) continue; // no znode and nothing to put in it
      const data = Buffer.from(json, 'utf8');
      if (data.length > ZNODE_LIMIT_BYTES) {
        throw new RegistryError(
          `registry shard ${path} would hold ${data.length} bytes, over ZooKeeper's ~1 MB znode limit; ` +
            `the registry at ${this.rootPath} was made with ${this.shards} shards per kind, too few for this many entries`,
        );
      }
      const op: ZkOp =
        current === undefined || current.json === undefined
          ? { op: 'create', path, data, acl: 'private' }
          : { op: 'set', path, data, version: current.version };
      changes.push({ path, json, op, bytes: data.length });
    }
    if (changes.length === 0) return; // nothing changed: no ZooKeeper call at all

    // One transaction, so a save is all or nothing. Only when the changed data would break
    // ZooKeeper's ~1 MB request limit (e.g. the very first save of 10,000 agents) is it split into
    // several transactions of ≤ 800 KB; each one checks the fence, and each shard stays whole, so a
    // save cut short leaves every shard either old or new, and the next save finishes the job.
    const batches: (typeof changes)[] = [];
    let batch: typeof changes = [];
    let bytes = 0;
    for (const change of changes) {
      if (batch.length > 0 && bytes + change.bytes > TRANSACTION_BUDGET_BYTES) {
        batches.push(batch);
        batch = [];
        bytes = 0;
      }
      batch.push(change);
      bytes += change.bytes;
    }
    batches.push(batch);

    const fence = this.options.fencePath;
    for (const group of batches) {
      const ops: ZkOp[] = fence === undefined ? [] : [{ op: 'check', path: fence }];
      ops.push(...group.map((change) => change.op));
      try {
        await this.options.session.transaction(ops);
      } catch (err) {
        // A lost connection leaves the outcome unknown: forget what we think ZooKeeper holds.
        this.known = undefined;
        throw this.saveError(err, fence);
      }
      for (const change of group) {
        const before = known.get(change.path);
        known.set(change.path, { json: change.json, version: change.op.op === 'create' ? 0 : (before?.version ?? -1) + 1 });
      }
    }
    if (batches.length > 1) this.options.logger.info({ transactions: batches.length, shards: changes.length }, 'registry save split over several transactions');
  }

  private saveError(err: unknown, fence: string | undefined): RegistryError {
    const code = codeOf(err);
    if (fence !== undefined && code === 'ZK_NO_NODE') {
      return new RegistryError(
        `registry write refused: this master's election znode ${fence} is gone, so it no longer leads (fencing)`,
        { cause: err },
      );
    }
    if (code === 'ZK_BAD_VERSION' || code === 'ZK_NODE_EXISTS') {
      return new RegistryError(`registry write refused: someone else changed ${this.rootPath} meanwhile`, { cause: err });
    }
    return new RegistryError(`cannot write the registry under ${this.rootPath}: ${errorMessage(err)}`, {
      cause: err,
      retryable: isRetryable(err),
    });
  }
}

const EMPTY_SHARD_LENGTH = JSON.stringify({ version: FORMAT_VERSION, entries: [] }).length;

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function codeOf(err: unknown): unknown {
  return typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
}

function isRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === true;
}
