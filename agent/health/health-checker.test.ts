import assert from 'node:assert/strict';
import { silentLogger, type HealthCheck } from '../../common/index.js';
import { ManualClock } from '../../common/testing/index.js';
import { HealthChecker, healthTiming, type HealthEvent, type ProbeResult } from './health-checker.js';

/** A probe the test answers by hand; it records the abort signal of the call in flight. */
class ScriptedProbe {
  calls = 0;
  private pending: { resolve: (r: ProbeResult) => void; signal: AbortSignal } | undefined;
  readonly probe = ({ signal }: { timeoutMs: number; signal: AbortSignal }): Promise<ProbeResult> => {
    this.calls += 1;
    return new Promise((resolve) => {
      this.pending = { resolve, signal };
      signal.addEventListener('abort', () => resolve({ healthy: false, message: 'aborted' }), { once: true });
    });
  };
  get inFlight(): boolean {
    return this.pending !== undefined && !this.pending.signal.aborted;
  }
  answer(healthy: boolean): void {
    const p = this.pending;
    assert.ok(p, 'no check in flight');
    this.pending = undefined;
    p.resolve({ healthy, message: healthy ? 'ok' : 'exited with status 1' });
  }
}

function summary(events: HealthEvent[]): string[] {
  return events.map((e) => (e.kind === 'health' ? `health:${e.healthy}` : 'kill'));
}

/** Lets promise callbacks (the checker's awaits) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function setup(check: Partial<HealthCheck>, startedAtMs?: number) {
  const clock = new ManualClock();
  const probe = new ScriptedProbe();
  const events: HealthEvent[] = [];
  const checker = new HealthChecker({
    taskId: 't1',
    check: { type: 'COMMAND', command: { value: 'true' }, ...check },
    startedAtMs: startedAtMs ?? clock.now(),
    probe: probe.probe,
    onEvent: async (event) => {
      events.push(event);
    },
    clock,
    logger: silentLogger,
  });
  return { clock, probe, events, checker };
}

describe('HealthChecker timing', () => {
  it('uses the Mesos defaults, and raises zero intervals and timeouts to the minimum', () => {
    assert.deepEqual(healthTiming({ type: 'TCP', tcp: { port: 1 } }), {
      delayMs: 15_000,
      intervalMs: 10_000,
      timeoutMs: 20_000,
      consecutiveFailures: 3,
      graceMs: 10_000,
    });
    const fractional = healthTiming({ type: 'TCP', tcp: { port: 1 }, delay_seconds: 0.5, interval_seconds: 0, timeout_seconds: 0.25 });
    assert.equal(fractional.delayMs, 500);
    assert.equal(fractional.intervalMs, 100);
    assert.equal(fractional.timeoutMs, 250);
  });

  it('waits delay_seconds, then checks every interval_seconds after the previous check ended', async () => {
    const { clock, probe, checker } = setup({ delay_seconds: 2, interval_seconds: 1, grace_period_seconds: 0 });
    checker.start();
    clock.advance(1999);
    assert.equal(probe.calls, 0);
    clock.advance(1);
    assert.equal(probe.calls, 1);
    clock.advance(5000); // the check is slow (but within its 20 s timeout): no second one meanwhile
    assert.equal(probe.calls, 1);
    probe.answer(true);
    await settle();
    clock.advance(999);
    assert.equal(probe.calls, 1);
    clock.advance(1);
    assert.equal(probe.calls, 2);
    await checker.stop();
  });

  it('reports the first result and every flip, not repeats', async () => {
    const { clock, probe, events, checker } = setup({ delay_seconds: 0, interval_seconds: 1, grace_period_seconds: 0, consecutive_failures: 0 });
    checker.start();
    const results = [false, false, true, true, false, true];
    for (const healthy of results) {
      clock.advance(1000);
      probe.answer(healthy);
      await settle();
    }
    assert.deepEqual(summary(events), ['health:false', 'health:true', 'health:false', 'health:true']);
    await checker.stop();
  });

  it('ignores failures within the grace period, until the task was healthy once', async () => {
    const { clock, probe, events, checker } = setup({ delay_seconds: 0, interval_seconds: 1, grace_period_seconds: 2.5, consecutive_failures: 1 });
    checker.start();
    clock.advance(0);
    probe.answer(false); // t=0: in grace
    await settle();
    clock.advance(1000);
    probe.answer(false); // t=1: in grace
    await settle();
    assert.deepEqual(events, []);
    clock.advance(1000);
    probe.answer(true); // t=2: healthy ends the grace period early
    await settle();
    clock.advance(1000);
    assert.ok(clock.now() - 1_700_000_000_000 < 3500);
    probe.answer(false); // t=3: counted, and consecutive_failures 1 kills
    await settle();
    assert.deepEqual(summary(events), ['health:true', 'health:false', 'kill']);
    await checker.stop();
  });

  it('asks for a kill after consecutive_failures counted failures, and then stops checking', async () => {
    const { clock, probe, events, checker } = setup({ delay_seconds: 0, interval_seconds: 1, grace_period_seconds: 0, consecutive_failures: 3 });
    checker.start();
    clock.advance(0);
    probe.answer(true);
    await settle();
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      probe.answer(false);
      await settle();
    }
    const last = events.at(-1);
    assert.equal(last?.kind, 'kill');
    assert.equal(last.consecutiveFailures, 3);
    assert.match(last.message, /3 consecutive failed health checks/);
    assert.deepEqual(summary(events), ['health:true', 'health:false', 'kill']);
    clock.advance(10_000);
    assert.equal(probe.calls, 4, 'no check after the kill');
  });

  it('a success resets the count of consecutive failures', async () => {
    const { clock, probe, events, checker } = setup({ delay_seconds: 0, interval_seconds: 1, grace_period_seconds: 0, consecutive_failures: 2 });
    checker.start();
    clock.advance(0);
    for (const healthy of [false, true, false, true, false]) {
      probe.answer(healthy);
      await settle();
      clock.advance(1000);
    }
    assert.deepEqual(summary(events), ['health:false', 'health:true', 'health:false', 'health:true', 'health:false']);
    await checker.stop();
  });

  it('a check that outlives timeout_seconds is aborted and counts as a failure', async () => {
    const { clock, probe, events, checker } = setup({ delay_seconds: 0, interval_seconds: 1, timeout_seconds: 0.5, grace_period_seconds: 0 });
    checker.start();
    clock.advance(0);
    assert.ok(probe.inFlight);
    clock.advance(500);
    await settle();
    assert.ok(!probe.inFlight, 'the probe was aborted');
    assert.equal(events[0]?.kind, 'health');
    assert.equal(events[0].kind === 'health' && events[0].healthy, false);
    assert.match(events[0].message, /timed out after 0.5 s/);
    await checker.stop();
  });

  it('stop() aborts a check in flight, leaves no timer, and reports nothing more', async () => {
    const { clock, probe, events, checker } = setup({ delay_seconds: 0, interval_seconds: 1, grace_period_seconds: 0 });
    checker.start();
    clock.advance(0);
    assert.ok(probe.inFlight);
    await checker.stop();
    assert.ok(!probe.inFlight);
    clock.advance(60_000);
    assert.equal(probe.calls, 1);
    assert.deepEqual(events, []);
  });
});
