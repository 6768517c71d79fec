// Resource arithmetic (scalars and port ranges) and the Mesos v1 JSON encoding of resources.
// Offers, the allocator, task launches and agents all count with these, so they agree to the unit.
import { ValidationError } from './errors.js';
import type { PortRange, Resources } from './types.js';

/** What an agent offers when it is not told otherwise (Mesos's default). */
export const DEFAULT_AGENT_PORTS: readonly PortRange[] = Object.freeze([{ begin: 31000, end: 32000 }]);

/** Mesos keeps scalars in fixed point with three decimals; so do we, so 0.1 + 0.2 fits into 0.3. */
export function roundScalar(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export function emptyResources(): Resources {
  return { cpus: 0, mem: 0 };
}

/** Sorted, merged, adjacent ranges joined: the one form every other function returns. */
export function normalizeRanges(ranges: readonly PortRange[]): PortRange[] {
  const sorted = ranges.filter((r) => r.end >= r.begin).map((r) => ({ begin: r.begin, end: r.end }));
  sorted.sort((a, b) => a.begin - b.begin);
  const merged: PortRange[] = [];
  for (const range of sorted) {
    const last = merged[merged.length - 1];
    if (last && range.begin <= last.end + 1) last.end = Math.max(last.end, range.end);
    else merged.push(range);
  }
  return merged;
}

export function rangesSize(ranges: readonly PortRange[]): number {
  return ranges.reduce((sum, r) => sum + (r.end - r.begin + 1), 0);
}

export function addRanges(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  return normalizeRanges([...a, ...b]);
}

/** `a` without the ports in `b`. */
export function subtractRanges(a: readonly PortRange[], b: readonly PortRange[]): PortRange[] {
  let result = normalizeRanges(a);
  for (const cut of normalizeRanges(b)) {
    const next: PortRange[] = [];
    for (const range of result) {
      if (cut.end < range.begin || cut.begin > range.end) {
        next.push(range);
        continue;
      }
      if (cut.begin > range.begin) next.push({ begin: range.begin, end: cut.begin - 1 });
      if (cut.end < range.end) next.push({ begin: cut.end + 1, end: range.end });
    }
    result = next;
  }
  return result;
}

/** Whether every port of `wanted` is in `have`. */
export function containsRanges(have: readonly PortRange[], wanted: readonly PortRange[]): boolean {
  const pool = normalizeRanges(have);
  return normalizeRanges(wanted).every((w) => pool.some((h) => h.begin <= w.begin && w.end <= h.end));
}

/** The first `count` ports of `ranges` (fewer if there are not that many), as ranges. */
export function takePorts(ranges: readonly PortRange[], count: number): PortRange[] {
  const taken: PortRange[] = [];
  let left = count;
  for (const range of normalizeRanges(ranges)) {
    if (left <= 0) break;
    const size = Math.min(left, range.end - range.begin + 1);
    taken.push({ begin: range.begin, end: range.begin + size - 1 });
    left -= size;
  }
  return taken;
}

/** Every port of `ranges`, in order (PORT0…PORTn of a task). */
export function portList(ranges: readonly PortRange[]): number[] {
  const ports: number[] = [];
  for (const range of normalizeRanges(ranges)) for (let p = range.begin; p <= range.end; p++) ports.push(p);
  return ports;
}

export function addResources(a: Resources, b: Resources): Resources {
  const sum: Resources = { cpus: roundScalar(a.cpus + b.cpus), mem: roundScalar(a.mem + b.mem) };
  const disk = (a.disk ?? 0) + (b.disk ?? 0);
  if (a.disk !== undefined || b.disk !== undefined) sum.disk = roundScalar(disk);
  const ports = addRanges(a.ports ?? [], b.ports ?? []);
  if (ports.length > 0) sum.ports = ports;
  return sum;
}

/** `a − b`, never below zero (the caller checks `containsResources` first when that matters). */
export function subtractResources(a: Resources, b: Resources): Resources {
  const rest: Resources = {
    cpus: Math.max(0, roundScalar(a.cpus - b.cpus)),
    mem: Math.max(0, roundScalar(a.mem - b.mem)),
  };
  if (a.disk !== undefined) rest.disk = Math.max(0, roundScalar(a.disk - (b.disk ?? 0)));
  const ports = subtractRanges(a.ports ?? [], b.ports ?? []);
  if (ports.length > 0) rest.ports = ports;
  return rest;
}

/** Whether `have` covers `wanted` (scalars to the thousandth; ports exactly). `pids` is a limit, not counted. */
export function containsResources(have: Resources, wanted: Resources): boolean {
  return (
    roundScalar(have.cpus - wanted.cpus) >= 0 &&
    roundScalar(have.mem - wanted.mem) >= 0 &&
    roundScalar((have.disk ?? 0) - (wanted.disk ?? 0)) >= 0 &&
    containsRanges(have.ports ?? [], wanted.ports ?? [])
  );
}

/** What `a` and `b` have in common: scalar minimums, shared ports. */
export function intersectResources(a: Resources, b: Resources): Resources {
  const out: Resources = { cpus: roundScalar(Math.min(a.cpus, b.cpus)), mem: roundScalar(Math.min(a.mem, b.mem)) };
  if (a.disk !== undefined || b.disk !== undefined) out.disk = roundScalar(Math.min(a.disk ?? 0, b.disk ?? 0));
  const ap = a.ports ?? [];
  const bp = b.ports ?? [];
  const ports = ap.length === 0 || bp.length === 0 ? [] : subtractRanges(ap, subtractRanges(ap, bp));
  if (ports.length > 0) out.ports = ports;
  return out;
}

export function isEmptyResources(r: Resources): boolean {
  return r.cpus <= 0 && r.mem <= 0 && (r.disk ?? 0) <= 0 && (r.ports ?? []).length === 0;
}

// ---- Mesos v1 JSON -------------------------------------------------------------------------------

/** One Mesos `Resource` as JSON: `{"name":"cpus","type":"SCALAR","scalar":{"value":1}}`. */
export interface MesosResource {
  name: string;
  type: 'SCALAR' | 'RANGES' | 'SET';
  scalar?: { value: number };
  ranges?: { range: Array<{ begin: number; end: number }> };
  set?: { item: string[] };
  role?: string;
  allocation_info?: { role: string };
}

/** Resources as Mesos lists them (cpus, mem, disk as SCALAR, ports as RANGES); zero scalars are left out. */
export function toMesosResources(r: Resources, options: { role?: string; allocationRole?: string } = {}): MesosResource[] {
  const extra = {
    ...(options.role === undefined ? {} : { role: options.role }),
    ...(options.allocationRole === undefined ? {} : { allocation_info: { role: options.allocationRole } }),
  };
  const list: MesosResource[] = [];
  const scalar = (name: string, value: number | undefined): void => {
    if (value !== undefined && value > 0) list.push({ name, type: 'SCALAR', scalar: { value: roundScalar(value) }, ...extra });
  };
  scalar('cpus', r.cpus);
  scalar('mem', r.mem);
  scalar('disk', r.disk);
  const ports = normalizeRanges(r.ports ?? []);
  if (ports.length > 0) list.push({ name: 'ports', type: 'RANGES', ranges: { range: ports }, ...extra });
  return list;
}

/**
 * A Mesos resource list as Resources. Entries of the same name add up (Mesos lists one per role).
 * Unknown names, wrong types or negative values are a ValidationError naming `field[i]`.
 */
export function fromMesosResources(list: readonly MesosResource[], field: string): Resources {
  const total: Resources = { cpus: 0, mem: 0 };
  list.forEach((resource, i) => {
    const where = `${field}[${i}]`;
    switch (resource.name) {
      case 'cpus':
      case 'mem':
      case 'disk': {
        if (resource.type !== 'SCALAR' || typeof resource.scalar?.value !== 'number') {
          throw new ValidationError(where, `'${resource.name}' must be of type SCALAR with scalar.value`);
        }
        const value = resource.scalar.value;
        if (!Number.isFinite(value) || value < 0) throw new ValidationError(`${where}.scalar.value`, 'must be a number >= 0');
        total[resource.name] = roundScalar((total[resource.name] ?? 0) + value);
        return;
      }
      case 'ports': {
        if (resource.type !== 'RANGES' || !Array.isArray(resource.ranges?.range)) {
          throw new ValidationError(where, "'ports' must be of type RANGES with ranges.range");
        }
        resource.ranges.range.forEach((range, j) => {
          if (!Number.isInteger(range.begin) || !Number.isInteger(range.end) || range.begin < 1 || range.end > 65535 || range.begin > range.end) {
            throw new ValidationError(`${where}.ranges.range[${j}]`, 'must be integers with 1 <= begin <= end <= 65535');
          }
        });
        total.ports = addRanges(total.ports ?? [], resource.ranges.range);
        return;
      }
      default:
        throw new ValidationError(`${where}.name`, `unsupported resource '${resource.name}' (supported: cpus, mem, disk, ports)`);
    }
  });
  return total;
}
