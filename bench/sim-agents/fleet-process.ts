// The bench's handle on a fleet worker process. A fleet of 10,000 agents keeps an event loop busy;
// in its own process it neither delays the bench's timing of the masters nor competes with it.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { assertNever } from '../../common/index.js';
import { SimAgentError } from './errors.js';
import type { FleetSnapshot } from './fleet.js';
import type { FleetWorkerConfig, FromWorker, ToWorker } from './messages.js';

const WORKER = fileURLToPath(new URL('./fleet-worker.js', import.meta.url));

export class FleetProcess {
  private nextRequest = 0;
  private readonly pending = new Map<number, (snapshot: FleetSnapshot) => void>();
  private failure: Error | undefined;
  private readonly exited: Promise<void>;
  private startedResolve: (() => void) | undefined;

  private constructor(private readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (message: FromWorker) => this.receive(message));
    // A send on a closed channel (the worker is stopping or gone) is reported here, not thrown.
    child.on('error', (err) => {
      this.failure ??= new SimAgentError('FLEET_PROCESS', `fleet worker: ${err.message}`, { cause: err });
    });
    child.once('exit', (code, signal) => {
      this.failure ??= new SimAgentError('FLEET_PROCESS', `fleet worker exited (${signal ?? code})`);
    });
  }

  /** Forks a worker and starts its fleet; resolves once its agents begin registering. */
  static async create(config: FleetWorkerConfig, execArgv: string[] = []): Promise<FleetProcess> {
    const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv });
    const handle = new FleetProcess(child);
    try {
      await handle.call<void>((resolve) => (handle.startedResolve = resolve), { kind: 'start', config });
    } catch (err) {
      await handle.kill();
      throw err;
    }
    return handle;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  setLeader(address: string | undefined): void {
    this.post({ kind: 'set-leader', address });
  }

  snapshot(sinceMs = 0): Promise<FleetSnapshot> {
    const requestId = this.nextRequest++;
    return this.call((resolve) => this.pending.set(requestId, resolve), { kind: 'snapshot', requestId, sinceMs });
  }

  /** Stops the agents and waits for the worker to exit (SIGKILL after 5 s). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      this.post({ kind: 'stop' });
    } catch {
      // already disconnected: the kill below settles it
    }
    // From now on the bench's pollers get an error instead of talking to a stopping worker.
    this.failure ??= new SimAgentError('FLEET_PROCESS', 'fleet stopped');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  private call<T>(register: (resolve: (value: T) => void) => void, message: ToWorker): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.failure) {
        reject(this.failure);
        return;
      }
      const onExit = (): void => reject(this.failure ?? new SimAgentError('FLEET_PROCESS', 'fleet worker exited'));
      this.child.once('exit', onExit);
      const wrapped = (value: T): void => {
        this.child.off('exit', onExit);
        resolve(value);
      };
      register(wrapped);
      try {
        this.post(message);
      } catch (err) {
        this.child.off('exit', onExit);
        reject(err);
      }
    });
  }

  private post(message: ToWorker): void {
    if (this.failure) throw this.failure;
    if (!this.child.connected) throw new SimAgentError('FLEET_PROCESS', 'fleet worker is not connected');
    this.child.send(message);
  }

  private receive(message: FromWorker): void {
    switch (message.kind) {
      case 'started':
        this.startedResolve?.();
        return;
      case 'snapshot': {
        const resolve = this.pending.get(message.requestId);
        this.pending.delete(message.requestId);
        resolve?.(message.snapshot);
        return;
      }
      case 'error':
        this.failure = new SimAgentError('FLEET_PROCESS', `fleet worker: ${message.message}`);
        this.child.kill('SIGKILL');
        return;
      case 'stopped':
        return; // stop() waits for the exit that follows
      default:
        assertNever(message);
    }
  }
}
