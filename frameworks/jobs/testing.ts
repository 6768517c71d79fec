// Test doubles for pure-logic unit tests: an in-memory store and a hand-driven clock.
import type { Clock, TimerHandle } from '../../common/index.js';
import type { KeyValueStore } from './jobs-engine.js';

export class MemoryStore implements KeyValueStore {
  readonly data = new Map<string, string>();
  async get<T>(key: string): Promise<T | undefined> {
    const v = this.data.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }
  async put(key: string, value: unknown): Promise<void> {
    this.data.set(key, JSON.stringify(value));
  }
  async delete(key: string): Promise<void> {
    this.data.delete(key);
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix));
  }
}

export class ManualClock implements Clock {
  private timers: Array<{ at: number; fn: () => void; handle: TimerHandle }> = [];
  constructor(public time: number) {}
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle: TimerHandle = {};
    this.timers.push({ at: this.time + ms, fn, handle });
    return handle;
  }
  clearTimeout(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t.handle !== handle);
  }
  advance(ms: number): void {
    this.time += ms;
    const due = this.timers.filter((t) => t.at <= this.time);
    this.timers = this.timers.filter((t) => t.at > this.time);
    for (const t of due) t.fn();
  }
}
