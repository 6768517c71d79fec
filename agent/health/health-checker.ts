// The timing of one task's health check, as Mesos's health checker does it: first check after
// delay_seconds, then one every interval_seconds after the previous one finished, each cut off after
// timeout_seconds (a failure). Failures while the task is in its grace period (grace_period_seconds
// from the task's start, and only until it was healthy once) are ignored. The owner hears of the first
// counted result and of every change of health, and is told to kill the task after
// consecutive_failures counted failures in a row (0: never). What a probe does is not this file's
// concern: it gets a timeout and an AbortSignal and must be gone when it resolves.
import { errorMessage, type Clock, type HealthCheck, type Logger, type TimerHandle } from '../../common/index.js';

export interface ProbeResult {
  healthy: boolean;
  /** What was seen, for logs and the update's message: "exited with status 1", "connection refused". */
  message: string;
}

/** Runs the check once. Resolves (never rejects on a failed check) once whatever it started has ended. */
export type Probe = (options: { timeoutMs: number; signal: AbortSignal }) => Promise<ProbeResult>;

export type HealthEvent =
  /** The first counted result, or health flipped. */
  | { kind: 'health'; healthy: boolean; consecutiveFailures: number; message: string }
  /** consecutive_failures counted failures in a row: the task must be killed. Checking has stopped. */
  | { kind: 'kill'; consecutiveFailures: number; message: string };

export interface HealthCheckerOptions {
  taskId: string;
  check: HealthCheck;
  /** When the task started (clock ms): the grace period runs from here. */
  startedAtMs: number;
  probe: Probe;
  /** Awaited before the next check is scheduled, so events reach the owner in order. */
  onEvent: (event: HealthEvent) => Promise<void>;
  clock: Clock;
  logger: Logger;
}

/** Mesos's defaults (mesos.proto HealthCheck). */
export const HEALTH_CHECK_DEFAULTS = {
  delay_seconds: 15,
  interval_seconds: 10,
  timeout_seconds: 20,
  consecutive_failures: 3,
  grace_period_seconds: 10,
} as const;

/** Intervals and timeouts below this are raised to it: a zero interval would spin. */
export const MIN_PERIOD_MS = 100;

export interface HealthTiming {
  delayMs: number;
  intervalMs: number;
  timeoutMs: number;
  /** 0: never kill. */
  consecutiveFailures: number;
  graceMs: number;
}

export function healthTiming(check: HealthCheck): HealthTiming {
  const seconds = (value: number | undefined, fallback: number): number => (value ?? fallback) * 1000;
  return {
    delayMs: seconds(check.delay_seconds, HEALTH_CHECK_DEFAULTS.delay_seconds),
    intervalMs: Math.max(MIN_PERIOD_MS, seconds(check.interval_seconds, HEALTH_CHECK_DEFAULTS.interval_seconds)),
    timeoutMs: Math.max(MIN_PERIOD_MS, seconds(check.timeout_seconds, HEALTH_CHECK_DEFAULTS.timeout_seconds)),
    consecutiveFailures: check.consecutive_failures ?? HEALTH_CHECK_DEFAULTS.consecutive_failures,
    graceMs: seconds(check.grace_period_seconds, HEALTH_CHECK_DEFAULTS.grace_period_seconds),
  };
}

export class HealthChecker {
  private readonly timing: HealthTiming;
  private readonly logger: Logger;
  private timer: TimerHandle | undefined;
  /** The check in flight (probe and the owner's handling of its result). */
  private running: Promise<void> | undefined;
  private abort: AbortController | undefined;
  /** The owner is handling an event: no probe runs then, and stop() from inside the handler must not wait for itself. */
  private handling = false;
  private stopped = false;
  private started = false;
  private everHealthy = false;
  private reported: boolean | undefined;
  private consecutiveFailures = 0;

  constructor(private readonly options: HealthCheckerOptions) {
    this.timing = healthTiming(options.check);
    this.logger = options.logger.child({ taskId: options.taskId, module: 'health' });
  }

  /** The last health reported (undefined before the first counted result). */
  get healthy(): boolean | undefined {
    return this.reported;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(this.timing.delayMs);
  }

  /** Stops checking: no timer is left, a probe in flight is aborted and waited for. Idempotent. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.abort?.abort();
    if (!this.handling) await this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.running = this.checkOnce().finally(() => {
        this.running = undefined;
      });
    }, ms);
  }

  private async checkOnce(): Promise<void> {
    const { clock } = this.options;
    const abort = new AbortController();
    this.abort = abort;
    let timedOut = false;
    const deadline = clock.setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.timing.timeoutMs);
    let result: ProbeResult;
    try {
      result = await this.options.probe({ timeoutMs: this.timing.timeoutMs, signal: abort.signal });
    } catch (err) {
      result = { healthy: false, message: `the check could not run: ${errorMessage(err)}` };
    } finally {
      clock.clearTimeout(deadline);
      this.abort = undefined;
    }
    if (this.stopped) return;
    if (timedOut) result = { healthy: false, message: `timed out after ${this.timing.timeoutMs / 1000} s` };
    try {
      if (await this.evaluate(result)) this.schedule(this.timing.intervalMs);
    } catch (err) {
      // The owner could not take the result (e.g. the agent is stopping): keep checking regardless.
      this.logger.warn({ err }, 'health event not handled');
      this.schedule(this.timing.intervalMs);
    }
  }

  /** Reports what the result means; false when checking is over (the task is to be killed). */
  private async evaluate(result: ProbeResult): Promise<boolean> {
    if (result.healthy) {
      this.everHealthy = true;
      this.consecutiveFailures = 0;
      if (this.reported !== true) await this.report(true, result.message);
      return true;
    }
    const inGrace = !this.everHealthy && this.options.clock.now() - this.options.startedAtMs < this.timing.graceMs;
    if (inGrace) {
      this.logger.debug({ message: result.message }, 'health check failed within the grace period; ignored');
      return true;
    }
    this.consecutiveFailures += 1;
    this.logger.info({ consecutiveFailures: this.consecutiveFailures, message: result.message }, 'health check failed');
    if (this.reported !== false) await this.report(false, result.message);
    const limit = this.timing.consecutiveFailures;
    if (limit > 0 && this.consecutiveFailures >= limit) {
      this.stopped = true;
      await this.emit({
        kind: 'kill',
        consecutiveFailures: this.consecutiveFailures,
        message: `killed after ${this.consecutiveFailures} consecutive failed health checks (last: ${result.message})`,
      });
      return false;
    }
    return true;
  }

  private async report(healthy: boolean, message: string): Promise<void> {
    this.reported = healthy;
    await this.emit({ kind: 'health', healthy, consecutiveFailures: this.consecutiveFailures, message });
  }

  private async emit(event: HealthEvent): Promise<void> {
    this.handling = true;
    try {
      await this.options.onEvent(event);
    } finally {
      this.handling = false;
    }
  }
}
