// The agent's side of the spawner process (spawner-main.ts): starts it, sends it spawn and release
// requests, and turns its answers and exit notifications into promises. A spawner that ends (killed,
// crashed, closed) fails what it had not answered yet and reports every wrapper it had not yet reaped
// as `lost`: those wrappers live on (detached), and the executor follows them like tasks of an
// earlier agent. A dead spawner is never reused: the executor starts a new one for its next launch.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertNever, errorMessage, systemClock, type Clock, type Logger } from '../../common/index.js';
import { SpawnerError } from './errors.js';
import {
  encodeLine,
  LineSplitter,
  parseMessage,
  type SpawnerMessage,
  type SpawnerRequest,
  type SpawnRequest,
} from './spawner-protocol.js';

const SPAWNER_MAIN = fileURLToPath(new URL('./spawner-main.js', import.meta.url));
/** How long close() waits for the spawner to exit on its own before it is SIGKILLed. */
const CLOSE_TIMEOUT_MS = 5000;

/** How a wrapper ended as far as the spawner could tell. */
export type WrapperEnd =
  | { kind: 'exited'; code: number | null; signal: NodeJS.Signals | null }
  /** The spawner ended before the wrapper did (or before it could say): the wrapper may still run. */
  | { kind: 'lost' };

export interface SpawnedWrapper {
  pid: number;
  /** Resolves when the spawner has reaped the wrapper, or with `lost` once the spawner is gone. */
  exited: Promise<WrapperEnd>;
  /** Lets the wrapper run its program (it waits on its fd-3 gate until then). */
  release(): Promise<void>;
}

export type WrapperSpec = Omit<SpawnRequest, 'op' | 'id'>;

export interface SpawnerOptions {
  logger: Logger;
  clock?: Clock;
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

export class Spawner {
  private readonly logger: Logger;
  private readonly clock: Clock;
  private readonly child: ChildProcess;
  private nextId = 1;
  private readonly spawnWaiters = new Map<number, Waiter<number>>();
  private readonly releaseWaiters = new Map<number, Waiter<void>>();
  private readonly exitWaiters = new Map<number, (end: WrapperEnd) => void>();
  /** Whoever needs the agent kept alive for an answer: pending requests and holds. */
  private interest = 0;
  private corked = false;
  private endedWith: string | undefined;
  private readonly ended: Promise<void>;

  private constructor(options: SpawnerOptions) {
    this.logger = options.logger;
    this.clock = options.clock ?? systemClock;
    // Its own session (detached): a terminal's ^C to the agent's group is for the agent, which then
    // closes the spawner itself. None of the agent's node flags (inspector, profiler): they are its own.
    this.child = spawn(process.execPath, [SPAWNER_MAIN], {
      detached: true,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let endedResolve: () => void = () => {};
    this.ended = new Promise<void>((resolve) => (endedResolve = resolve));
    const { stdin, stdout } = this.child;
    if (!stdin || !stdout) throw new Error('the spawner has no stdio pipes');
    const lines = new LineSplitter((line) => this.onLine(line));
    stdout.setEncoding('utf8');
    stdout.on('data', (chunk: string) => lines.push(chunk));
    // 'close' on stdout comes after every line the spawner wrote has been read: only then is an exit
    // notification that will never come known to be lost.
    stdout.once('close', () => {
      this.onEnded('its output closed');
      endedResolve();
    });
    this.child.once('error', (err) => {
      this.onEnded(`it could not start: ${errorMessage(err)}`);
      endedResolve();
    });
    stdin.on('error', (err) => this.logger.debug({ err }, 'writing to the spawner failed'));
    // Neither the process nor its pipes keep the agent alive by themselves (see `interest`).
    this.child.unref();
    unrefStream(stdin);
    unrefStream(stdout);
  }

  /** Starts a spawner process; requests sent before it is up wait in its stdin. */
  static start(options: SpawnerOptions): Spawner {
    return new Spawner(options);
  }

  /** False once the spawner has ended (or is being closed): start a new one then. */
  get alive(): boolean {
    return this.endedWith === undefined && this.child.stdin?.writable === true;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts a wrapper and resolves once it runs (waiting on its gate), with its pid. */
  async spawn(spec: WrapperSpec): Promise<SpawnedWrapper> {
    const id = this.nextId++;
    const exited = new Promise<WrapperEnd>((resolve) => this.exitWaiters.set(id, resolve));
    let pid: number;
    try {
      pid = await this.request(this.spawnWaiters, { op: 'spawn', id, ...spec });
    } catch (err) {
      this.exitWaiters.delete(id);
      throw err;
    }
    return { pid, exited, release: () => this.request(this.releaseWaiters, { op: 'release', id }) };
  }

  /** Keeps the agent's process alive (say, while a task is waited for) until the returned function is called. */
  hold(): () => void {
    this.addInterest(1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.addInterest(-1);
    };
  }

  /** Ends the spawner (it exits when its stdin closes; the wrappers live on). Resolves once it has gone. */
  async close(): Promise<void> {
    if (this.endedWith === undefined) {
      this.child.stdin?.end();
      const timer = this.clock.setTimeout(() => {
        if (this.endedWith === undefined && this.child.exitCode === null) this.child.kill('SIGKILL');
      }, CLOSE_TIMEOUT_MS);
      await this.ended;
      this.clock.clearTimeout(timer);
    }
    await this.ended;
  }

  private request<T>(waiters: Map<number, Waiter<T>>, request: SpawnerRequest): Promise<T> {
    if (this.endedWith !== undefined) {
      return Promise.reject(new SpawnerError('SPAWNER_ENDED', `the spawner has ended (${this.endedWith})`, undefined, { retryable: true }));
    }
    const answer = new Promise<T>((resolve, reject) => waiters.set(request.id, { resolve, reject }));
    this.addInterest(1);
    const settled = (): void => this.addInterest(-1);
    answer.then(settled, settled);
    this.write(request);
    return answer;
  }

  /** Writes a line; lines written in one tick go out in one system call. */
  private write(request: SpawnerRequest): void {
    const stdin = this.child.stdin;
    if (!stdin) return;
    if (!this.corked) {
      this.corked = true;
      stdin.cork();
      process.nextTick(() => {
        this.corked = false;
        stdin.uncork();
      });
    }
    stdin.write(encodeLine(request));
  }

  private onLine(line: string): void {
    let message: SpawnerMessage | undefined;
    try {
      message = parseMessage(line);
    } catch {
      message = undefined;
    }
    if (!message) {
      this.logger.warn({ line: line.slice(0, 200) }, 'malformed line from the spawner');
      return;
    }
    const { id } = message;
    switch (message.op) {
      case 'spawned':
        take(this.spawnWaiters, id)?.resolve(message.pid);
        return;
      case 'released':
        take(this.releaseWaiters, id)?.resolve();
        return;
      case 'failed': {
        const err = new SpawnerError('SPAWN_FAILED', message.message, message.code);
        // An id has one request in flight at a time: a spawn, or later its release.
        const waiter = take(this.spawnWaiters, id) ?? take(this.releaseWaiters, id);
        if (waiter) waiter.reject(err);
        else this.logger.debug({ id, err }, 'the spawner failed a request nobody waits for');
        return;
      }
      case 'exit': {
        const resolve = this.exitWaiters.get(id);
        this.exitWaiters.delete(id);
        resolve?.({ kind: 'exited', code: message.code, signal: message.signal });
        return;
      }
      default:
        return assertNever(message, 'spawner message');
    }
  }

  private onEnded(why: string): void {
    if (this.endedWith !== undefined) return;
    this.endedWith = why;
    const lost = this.exitWaiters.size;
    if (lost > 0 || this.spawnWaiters.size > 0 || this.releaseWaiters.size > 0) {
      this.logger.warn({ why, lostWrappers: lost }, 'the spawner ended; its wrappers are followed by pid');
    }
    const err = new SpawnerError('SPAWNER_ENDED', `the spawner ended (${why})`, undefined, { retryable: true });
    for (const waiters of [this.spawnWaiters, this.releaseWaiters] as Array<Map<number, Waiter<unknown>>>) {
      for (const waiter of waiters.values()) waiter.reject(err);
      waiters.clear();
    }
    for (const resolve of this.exitWaiters.values()) resolve({ kind: 'lost' });
    this.exitWaiters.clear();
    this.child.stdin?.destroy();
  }

  private addInterest(delta: number): void {
    const before = this.interest;
    this.interest += delta;
    const stdout = this.child.stdout;
    // An ended spawner's pipe has no handle left to (un)ref (a socket would queue the call for a 'connect').
    if (!stdout || this.endedWith !== undefined) return;
    if (before === 0 && this.interest > 0) refStream(stdout, true);
    else if (before > 0 && this.interest === 0) refStream(stdout, false);
  }
}

function take<T>(map: Map<number, T>, id: number): T | undefined {
  const value = map.get(id);
  map.delete(id);
  return value;
}

/** Pipes of a child process are net.Sockets, which can be (un)ref'd; the stream types do not say so. */
interface Refable {
  ref(): unknown;
  unref(): unknown;
}

function refStream(stream: object, ref: boolean): void {
  const socket = stream as Partial<Refable>;
  if (ref) socket.ref?.();
  else socket.unref?.();
}

function unrefStream(stream: object): void {
  refStream(stream, false);
}
