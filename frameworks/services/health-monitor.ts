// Runs each running task's health checks on their interval and reports every result; the keeper
// decides what a result means (grace period, alive, kill after maxConsecutiveFailures).
import { errorMessage, type Clock, type TimerHandle } from '../../common/index.js';
import { isCommandCheck, type HealthCheck } from './app-definition.js';

export interface ProbeResult {
  ok: boolean;
  cause?: string;
}

/** Probes one check against host:port; never rejects. */
export type Probe = (check: HealthCheck, host: string, port: number) => Promise<ProbeResult>;

export interface HealthTarget {
  taskId: string;
  host: string;
  ports: number[];
  checks: HealthCheck[];
}

export interface HealthMonitorOptions {
  clock: Clock;
  probe: Probe;
  report: (taskId: string, index: number, result: ProbeResult) => void;
}

interface Running {
  timer: TimerHandle | undefined;
  stopped: boolean;
}

export class HealthMonitor {
  /** key: `${taskId}#${index}` */
  private readonly running = new Map<string, Running>();

  constructor(private readonly options: HealthMonitorOptions) {}

  /** Checks exactly these targets from now on: starts new ones, stops the ones not listed. */
  sync(targets: readonly HealthTarget[]): void {
    const wanted = new Set<string>();
    for (const target of targets) {
      target.checks.forEach((check, index) => {
        // The agent runs COMMAND checks and its results come with status updates.
        if (isCommandCheck(check)) return;
        const key = `${target.taskId}#${index}`;
        wanted.add(key);
        if (!this.running.has(key)) this.start(key, target, check, index);
      });
    }
    for (const key of [...this.running.keys()]) if (!wanted.has(key)) this.stopOne(key);
  }

  stop(): void {
    for (const key of [...this.running.keys()]) this.stopOne(key);
  }

  private start(key: string, target: HealthTarget, check: HealthCheck, index: number): void {
    const state: Running = { timer: undefined, stopped: false };
    this.running.set(key, state);
    const port = check.port ?? target.ports[check.portIndex];
    const run = async (): Promise<void> => {
      if (state.stopped) return;
      let result: ProbeResult;
      if (port === undefined) result = { ok: false, cause: `the task has no port ${check.portIndex}` };
      else {
        try {
          result = await this.options.probe(check, target.host, port);
        } catch (err) {
          result = { ok: false, cause: errorMessage(err) };
        }
      }
      if (state.stopped) return;
      this.options.report(target.taskId, index, result);
      state.timer = this.options.clock.setTimeout(() => void run(), check.intervalSeconds * 1000);
      state.timer.unref?.();
    };
    // The first probe soon after RUNNING: the grace period forgives a task still starting.
    state.timer = this.options.clock.setTimeout(() => void run(), Math.min(1000, check.intervalSeconds * 1000));
    state.timer.unref?.();
  }

  private stopOne(key: string): void {
    const state = this.running.get(key);
    if (!state) return;
    state.stopped = true;
    if (state.timer !== undefined) this.options.clock.clearTimeout(state.timer);
    this.running.delete(key);
  }
}
