// The cgroup v1 controllers Tessera joins. Each has its own file (cpu.ts, memory.ts, …) that maps
// ContainerLimits to file writes and reads its part of the usage.
import { REQUIRED_V1_CONTROLLERS } from '../detect.js';

export const V1_CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'freezer'] as const;
export type V1Controller = (typeof V1_CONTROLLERS)[number];

/**
 * Controllers without which the isolator cannot enforce or account (freezer only helps kill). The
 * same list detection requires, so a host detected as v1 is one this isolator accepts.
 */
export const REQUIRED_CONTROLLERS: readonly V1Controller[] = REQUIRED_V1_CONTROLLERS;

/** Clock ticks per second of cpuacct.stat (USER_HZ; 100 on every Linux architecture Node runs on). */
export const USER_HZ = 100;

/** Parses a cgroup v1 integer file; -1 means unlimited, which we return as undefined. */
export function parseLimit(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  return Number.isFinite(value) && value >= 0 && text.trim() !== '' ? value : undefined;
}
