// What this agent offers: detected CPUs, memory (minus a reserve for the host) and disk, with
// operator overrides (`--resources "cpus:4;mem:8192"`) winning over detection.
import os from 'node:os';
import { statfs } from 'node:fs/promises';
import si from 'systeminformation';
import { RESOURCE_LIMITS, ValidationError, type Resources } from '../common/index.js';

export const DEFAULT_RESERVED_MEM_MB = 512;
/** Never offer less than this (or the whole machine if it is smaller): a reserve must not zero us out. */
const MIN_OFFERED_MEM_MB = 256;

const RESOURCE_NAMES = ['cpus', 'mem', 'disk', 'pids'] as const;
type ResourceName = (typeof RESOURCE_NAMES)[number];

function isResourceName(name: string): name is ResourceName {
  return (RESOURCE_NAMES as readonly string[]).includes(name);
}

/** "cpus:4;mem:8192" → {cpus: 4, mem: 8192}. Throws ValidationError naming the bad part. */
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
    if (name in result) throw new ValidationError(`resources.${name}`, `bad part '${part}': given twice`);
    result[name] = value;
  }
  return result;
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
  return resources;
}
