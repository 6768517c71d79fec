// Test helper: a clock that moves only when the test says so.
import type { Clock, TimerHandle } from '../clock.js';

interface Timer extends TimerHandle {
  at: number;
  fn: () => void;
}

export class ManualClock implements Clock {
  private timers = new Set<Timer>();
  constructor(private nowMs = 1_700_000_000_000) {}

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer: Timer = { at: this.nowMs + ms, fn, unref: () => timer };
    this.timers.add(timer);
    return timer;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete(handle as Timer);
  }

  /** Moves time on and runs the timers that fell due, in order. */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      const due = [...this.timers].filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers.delete(due);
      this.nowMs = due.at;
      due.fn();
    }
    this.nowMs = target;
  }
}
