// Time and ids come through these small sources so tests can control them.
import { randomUUID } from 'node:crypto';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface TimerHandle {
  unref?(): unknown;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Seconds since the epoch as a float, the way Mesos timestamps status updates. */
export function epochSeconds(clock: Clock = systemClock): number {
  return clock.now() / 1000;
}

export interface IdSource {
  uuid(): string;
}

export const randomIds: IdSource = { uuid: () => randomUUID() };

/** A short, human-friendly id: `web.1a2b3c4d`. */
export function taskIdFor(name: string, ids: IdSource = randomIds): string {
  const slug = name.replace(/[^A-Za-z0-9_-]+/g, '-').slice(0, 40) || 'task';
  return `${slug}.${ids.uuid().replace(/-/g, '').slice(0, 12)}`;
}

/** Resolves after `ms`; for retry backoff, never as a way for a test to wait for an event. */
export function delay(ms: number, clock: Clock = systemClock): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}
