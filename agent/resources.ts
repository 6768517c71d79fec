// What this agent offers: detected CPUs, memory (minus a reserve for the host) and disk, Mesos's
// default port range, with operator overrides (`--resources "cpus:4;mem:8192;ports:[31000-32000]"`)
// winning over detection.
import os from 'node:os';
import { statfs } from 'node:fs/promises';
import si from 'systeminformation';
import { DEFAULT_AGENT_PORTS, RESOURCE_LIMITS, ValidationError, normalizeRanges, type PortRange, type Resources } from '../common/index.js';

export const DEFAULT_RESERVED_MEM_MB = 512;
/** Never offer less than this (or the whole machine if it is smaller): a reserve must not zero us out. */
const MIN_OFFERED_MEM_MB = 256;

const RESOURCE_NAMES = ['cpus', 'mem', 'disk', 'pids', 'ports'] as const;
type ResourceName = (typeof RESOURCE_NAMES)[number];

function isResourceName(name: string): name is ResourceName {
  return (RESOURCE_NAMES as readonly string[]).includes(name);
}

/**
 * "cpus:4;mem:8192;ports:[31000-32000,40000-40010]" → {cpus: 4, mem: 8192, ports: [...]}, ports in
 * Mesos's range form (`ports:[]` offers none). Throws ValidationError naming the bad part.
 */
export function parseResources(spec: string): Partial<Resources> {
  const result: Partial<Resources> = {};
  for (const raw of spec.split(';')) {
    const part = raw.trim();
    if (part === '') continue;
    const colon = part.indexOf(':');
    if (colon < 0) throw new ValidationError('resources', `bad part '${part}': expected name:value`);
    const name = part.slice(0, colon).trim();
    const valueText = part.slice(colon + 1).trim();
    if (!isResourceName(name)) {
      throw new ValidationError('resources', `bad part '${part}': unknown resource '${name}' (known: ${RESOURCE_NAMES.join(', ')})`);
    }
    if (name in result) throw new ValidationError(`resources.${name}`, `bad part '${part}': given twice`);
    if (name === 'ports') {
      result.ports = parsePortRanges(valueText, part);
      continue;
    }
    const value = Number(valueText);
    if (valueText === '' || !Number.isFinite(value)) {
      throw new ValidationError(`resources.${name}`, `bad part '${part}': '${valueText}' is not a number`);
    }
    const limits = RESOURCE_LIMITS[name];
    if (value < limits.min || value > limits.max) {
      throw new ValidationError(`resources.${name}`, `bad part '${part}': must be between ${limits.min} and ${limits.max}`);
    }
    if (name === 'pids' && !Number.isInteger(value)) {
      throw new ValidationError('resources.pids', `bad part '${part}': must be an integer`);
    }
    result[name] = value;
  }
  return result;
}

/** "[31000-32000,40000-40010]" (a lone port "8080" means 8080-8080) → sorted ranges; overlaps are refused. */
export function parsePortRanges(text: string, part = text): PortRange[] {
  const bad = (why: string): ValidationError => new ValidationError('resources.ports', `bad part '${part}': ${why}`);
  const trimmed = text.trim();
  if (!trimmed.startsWith('[') || !trimmed.endsWith(']')) throw bad("expected ranges in brackets, e.g. '[31000-32000,40000-40010]'");
  const inner = trimmed.slice(1, -1).trim();
  if (inner === '') return [];
  const ranges: PortRange[] = [];
  for (const rawRange of inner.split(',')) {
    const rangeText = rawRange.trim();
    const match = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(rangeText);
    if (!match) throw bad(`'${rangeText}' is not a port range (begin-end)`);
    const begin = Number(match[1]);
    const end = Number(match[2] ?? match[1]);
    if (begin < 1 || end > 65535) throw bad(`range '${rangeText}' must lie within 1-65535`);
    if (begin > end) throw bad(`range '${rangeText}' ends before it begins`);
    ranges.push({ begin, end });
  }
  const sorted = [...ranges].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const next = sorted[i]!;
    if (next.begin <= prev.end) throw bad(`ranges '${prev.begin}-${prev.end}' and '${next.begin}-${next.end}' overlap`);
  }
  return normalizeRanges(ranges);
}

export interface DetectOptions {
  overrides?: Partial<Resources>;
  reservedMemMb?: number;
  /** Where disk space is measured (the work dir); omitted → disk is not offered. */
  diskPath?: string;
}

/** Memory to offer given the machine's total: total minus the reserve, but never below a sane floor. */
export function offeredMemMb(totalMb: number, reservedMb: number): number {
  const floor = Math.min(MIN_OFFERED_MEM_MB, totalMb);
  return Math.max(Math.floor(totalMb - Math.max(0, reservedMb)), Math.floor(floor));
}

export async function detectResources(options: DetectOptions = {}): Promise<Resources> {
  const overrides = options.overrides ?? {};
  const cpus = overrides.cpus ?? os.availableParallelism();
  let mem = overrides.mem;
  if (mem === undefined) {
    const totalBytes = await si
      .mem()
      .then((m) => m.total)
      .catch(() => os.totalmem());
    mem = offeredMemMb(totalBytes / (1024 * 1024), options.reservedMemMb ?? DEFAULT_RESERVED_MEM_MB);
  }
  let disk = overrides.disk;
  if (disk === undefined && options.diskPath !== undefined) {
    disk = await statfs(options.diskPath)
      .then((s) => Math.floor((s.bavail * s.bsize) / (1024 * 1024)))
      .catch(() => undefined);
  }
  const resources: Resources = { cpus, mem };
  if (disk !== undefined && disk > 0) resources.disk = disk;
  if (overrides.pids !== undefined) resources.pids = overrides.pids;
  // Ports cost nothing to offer: Mesos's default range unless the operator names others (or none).
  const ports = overrides.ports ?? DEFAULT_AGENT_PORTS;
  if (ports.length > 0) resources.ports = normalizeRanges(ports);
  return resources;
}
