// Dominant Resource Fairness across frameworks (Ghodsi et al., NSDI 2011), the way Mesos's
// hierarchical allocator applies it: each cycle, every agent with free resources goes whole to the
// eligible framework with the lowest (weighted) dominant share, and that allocation counts at once.
// Pure and synchronous: no I/O, no timers; decline filters expire by the injected clock.
//
// Cost of one cycle: O(F) to order the eligible frameworks (a heap), then per agent with free
// resources O(log F) plus O(log F) for each lower-share framework that filtered that agent. Agents
// without free resources are never visited (a set tracks the others), and an agent every eligible
// framework has filtered is skipped in O(1) (a per-agent count), so a quiet cluster's cycle is ~free.
import {
  addRanges,
  addResources,
  intersectResources,
  isEmptyResources,
  roundScalar,
  subtractResources,
  type Clock,
  type Resources,
} from '../../common/index.js';
import { AllocatorError } from './errors.js';
import { MinHeap } from './min-heap.js';

export interface Allocation {
  frameworkId: string;
  agentId: string;
  resources: Resources;
}

export interface AllocatorOptions {
  /** Decline filters expire by this clock's now() (ms). */
  clock: Pick<Clock, 'now'>;
  /** Role weights (default 1); a framework's share is divided by its role's weight. */
  roleWeights?: Record<string, number>;
  /** Do not offer less than this: an agent is offered when free cpus ≥ `cpus` OR free mem ≥ `mem` (Mesos). */
  minAllocatable?: { cpus: number; mem: number };
}

/** Mesos's defaults. */
export const DEFAULT_REFUSE_SECONDS = 5;
export const DEFAULT_MIN_ALLOCATABLE: Readonly<{ cpus: number; mem: number }> = Object.freeze({ cpus: 0.01, mem: 32 });
/** Mesos caps refuse_seconds at a year; a longer filter is as good as forever anyway. */
const MAX_REFUSE_SECONDS = 365 * 24 * 3600;
export const DEFAULT_ROLE = '*';

interface FrameworkState {
  readonly id: string;
  role: string;
  weight: number;
  active: boolean;
  suppressed: boolean;
  /** active && !suppressed, kept so filter counts can follow it. */
  eligible: boolean;
  // Allocated scalars summed over agents (fixed point).
  cpus: number;
  mem: number;
  disk: number;
  /** Agents where this framework holds resources. */
  readonly agents: Set<string>;
  /** Decline filters: agent id → expiry (ms). */
  readonly filters: Map<string, number>;
  /** Scratch: the weighted dominant share during a cycle. */
  share: number;
}

interface AgentState {
  readonly id: string;
  total: Resources;
  free: Resources;
  /** framework id → what it holds here. free + Σ allocations = total, always. */
  readonly allocations: Map<string, Resources>;
  /** Frameworks with a decline filter on this agent. */
  readonly filteredBy: Set<string>;
  /** How many of `filteredBy` are eligible: when it equals the eligible count the agent is skipped. */
  eligibleFilters: number;
}

interface FilterExpiry {
  at: number;
  frameworkId: string;
  agentId: string;
}

const byShareThenId = (a: FrameworkState, b: FrameworkState): boolean =>
  a.share < b.share || (a.share === b.share && a.id < b.id);

export class DrfAllocator {
  private readonly clock: Pick<Clock, 'now'>;
  private readonly roleWeights: Record<string, number>;
  private readonly minAllocatable: { cpus: number; mem: number };
  private readonly agents = new Map<string, AgentState>();
  private readonly frameworks = new Map<string, FrameworkState>();
  /** Agents whose free resources reach minAllocatable. */
  private readonly available = new Set<string>();
  /** Decline filters by expiry; entries whose filter was replaced or removed are skipped lazily. */
  private readonly expiries = new MinHeap<FilterExpiry>([], (a, b) => a.at < b.at);
  private eligibleCount = 0;
  // Cluster totals of the scalars that count towards shares.
  private totalCpus = 0;
  private totalMem = 0;
  private totalDisk = 0;

  constructor(options: AllocatorOptions) {
    this.clock = options.clock;
    this.roleWeights = { ...(options.roleWeights ?? {}) };
    for (const [role, weight] of Object.entries(this.roleWeights)) {
      if (!Number.isFinite(weight) || weight <= 0) throw new AllocatorError(`role weight of '${role}' must be a number > 0, got ${weight}`);
    }
    this.minAllocatable = { ...(options.minAllocatable ?? DEFAULT_MIN_ALLOCATABLE) };
  }

  // ---- agents --------------------------------------------------------------------------------------

  /** A known agent is updated instead (re-registration). `total` may include ports; `pids` is ignored. */
  addAgent(agentId: string, total: Resources): void {
    if (this.agents.has(agentId)) return this.updateAgent(agentId, total);
    const clean = countable(total);
    const agent: AgentState = {
      id: agentId,
      total: clean,
      free: cloneResources(clean),
      allocations: new Map(),
      filteredBy: new Set(),
      eligibleFilters: 0,
    };
    this.agents.set(agentId, agent);
    this.addToTotals(clean, 1);
    this.refreshAvailability(agent);
  }

  /** New totals for a known agent (an unknown one is added). Allocations stay; free is what is left. */
  updateAgent(agentId: string, total: Resources): void {
    const agent = this.agents.get(agentId);
    if (!agent) return this.addAgent(agentId, total);
    const clean = countable(total);
    this.addToTotals(agent.total, -1);
    this.addToTotals(clean, 1);
    agent.total = clean;
    let used: Resources = emptyLike(clean);
    for (const allocation of agent.allocations.values()) used = addResources(used, allocation);
    agent.free = withDiskOf(subtractResources(clean, used), clean);
    this.refreshAvailability(agent);
  }

  /** The agent is gone: its allocations and the filters on it are forgotten. */
  removeAgent(agentId: string): void {
    const agent = this.agents.get(agentId);
    if (!agent) return;
    for (const [frameworkId, allocation] of agent.allocations) {
      const framework = this.frameworks.get(frameworkId);
      if (!framework) continue;
      this.addToFramework(framework, allocation, -1);
      framework.agents.delete(agentId);
    }
    for (const frameworkId of agent.filteredBy) this.frameworks.get(frameworkId)?.filters.delete(agentId);
    this.addToTotals(agent.total, -1);
    this.agents.delete(agentId);
    this.available.delete(agentId);
  }

  // ---- frameworks ----------------------------------------------------------------------------------

  /**
   * A new framework is active and not suppressed. A known one (e.g. made by `allocateUsed` before it
   * re-subscribed) takes the role given and becomes active, keeping its allocations.
   */
  addFramework(frameworkId: string, options: { role?: string } = {}): void {
    const known = this.frameworks.get(frameworkId);
    if (known) {
      if (options.role !== undefined) {
        known.role = options.role;
        known.weight = this.weightOf(options.role);
      }
      known.active = true;
      this.refreshEligibility(known);
      return;
    }
    this.createFramework(frameworkId, options.role ?? DEFAULT_ROLE, true);
  }

  /** The framework is gone: its allocations go back to the pool, its filters are dropped. */
  removeFramework(frameworkId: string): void {
    const framework = this.frameworks.get(frameworkId);
    if (!framework) return;
    for (const agentId of framework.agents) {
      const agent = this.agents.get(agentId);
      if (!agent) continue;
      const allocation = agent.allocations.get(frameworkId);
      agent.allocations.delete(frameworkId);
      if (allocation) {
        agent.free = addResources(agent.free, allocation);
        this.refreshAvailability(agent);
      }
    }
    this.clearFilters(framework);
    if (framework.eligible) this.eligibleCount--;
    this.frameworks.delete(frameworkId);
  }

  /** Subscribed (again): offers resume unless suppressed. */
  activateFramework(frameworkId: string): void {
    const framework = this.frameworks.get(frameworkId);
    if (!framework) return;
    framework.active = true;
    this.refreshEligibility(framework);
  }

  /** Disconnected: no offers, but it keeps what it holds (its tasks still run). */
  deactivateFramework(frameworkId: string): void {
    const framework = this.frameworks.get(frameworkId);
    if (!framework) return;
    framework.active = false;
    this.refreshEligibility(framework);
  }

  /** No offers until `revive`. */
  suppress(frameworkId: string): void {
    const framework = this.frameworks.get(frameworkId);
    if (!framework) return;
    framework.suppressed = true;
    this.refreshEligibility(framework);
  }

  /** Offers again, and its decline filters are cleared (Mesos REVIVE). */
  revive(frameworkId: string): void {
    const framework = this.frameworks.get(frameworkId);
    if (!framework) return;
    this.clearFilters(framework);
    framework.suppressed = false;
    this.refreshEligibility(framework);
  }

  /**
   * Decline filter: do not offer `agentId` to `frameworkId` for `refuseSeconds` (default 5 s; ≤ 0 means
   * no filter, as in Mesos). A later decline replaces an earlier filter's expiry. It does not return
   * resources: call `recover` for the declined offer too.
   */
  decline(frameworkId: string, agentId: string, refuseSeconds: number = DEFAULT_REFUSE_SECONDS): void {
    const framework = this.frameworks.get(frameworkId);
    const agent = this.agents.get(agentId);
    if (!framework || !agent) return;
    const seconds = Number.isNaN(refuseSeconds) ? DEFAULT_REFUSE_SECONDS : Math.min(refuseSeconds, MAX_REFUSE_SECONDS);
    if (seconds <= 0) return;
    const at = this.clock.now() + seconds * 1000;
    if (!framework.filters.has(agentId)) {
      agent.filteredBy.add(frameworkId);
      if (framework.eligible) agent.eligibleFilters++;
    }
    framework.filters.set(agentId, at);
    this.expiries.push({ at, frameworkId, agentId });
  }

  // ---- resources -----------------------------------------------------------------------------------

  /**
   * Resources already in use by a framework on an agent (its tasks, found when the agent re-registered):
   * counted as its allocation, not free. Only what is actually free on the agent can be counted. An
   * unknown framework is added inactive (it has not re-subscribed yet); an unknown agent is a caller bug.
   */
  allocateUsed(frameworkId: string, agentId: string, resources: Resources): void {
    const agent = this.agents.get(agentId);
    if (!agent) throw new AllocatorError(`allocateUsed: agent '${agentId}' was never added`);
    const framework = this.frameworks.get(frameworkId) ?? this.createFramework(frameworkId, DEFAULT_ROLE, false);
    const taken = intersectResources(countable(resources), agent.free);
    agent.free = withDiskOf(subtractResources(agent.free, taken), agent.total);
    this.holdOn(agent, framework, taken);
    this.refreshAvailability(agent);
  }

  /**
   * Resources back to the pool: an offer declined, rescinded or partly used, or a task that ended.
   * Only what the framework holds on that agent comes back (unknown agents/frameworks are ignored:
   * their allocations were already forgotten), so the books always balance.
   */
  recover(frameworkId: string, agentId: string, resources: Resources): void {
    const agent = this.agents.get(agentId);
    const held = agent?.allocations.get(frameworkId);
    if (!agent || !held) return;
    const back = intersectResources(resources, held);
    const rest = withDiskOf(subtractResources(held, back), held);
    if (isEmptyResources(rest)) {
      agent.allocations.delete(frameworkId);
      this.frameworks.get(frameworkId)?.agents.delete(agentId);
    } else {
      agent.allocations.set(frameworkId, rest);
    }
    const framework = this.frameworks.get(frameworkId);
    if (framework) this.addToFramework(framework, back, -1);
    agent.free = addResources(agent.free, back);
    this.refreshAvailability(agent);
  }

  // ---- the cycle -----------------------------------------------------------------------------------

  /**
   * One allocation cycle. Every agent with free resources (≥ minAllocatable) goes, with ALL its free
   * resources, to the eligible framework (active, not suppressed, not filtered for that agent) with the
   * lowest weighted dominant share, ties broken by framework id. Each allocation counts at once, so the
   * next agent may go to another framework. The allocations returned are already counted.
   */
  allocate(): Allocation[] {
    this.expireFilters(this.clock.now());
    const allocations: Allocation[] = [];
    if (this.available.size === 0 || this.eligibleCount === 0) return allocations;

    const eligible: FrameworkState[] = [];
    for (const framework of this.frameworks.values()) {
      if (!framework.eligible) continue;
      framework.share = this.shareOf(framework);
      eligible.push(framework);
    }
    const heap = new MinHeap(eligible, byShareThenId);
    const skipped: FrameworkState[] = [];

    // Deleting the current element while iterating a Set is safe; additions do not happen here.
    for (const agentId of this.available) {
      const agent = this.agents.get(agentId);
      if (!agent || agent.eligibleFilters >= heap.size) continue;
      let chosen = heap.peek();
      while (chosen && chosen.filters.has(agentId)) {
        skipped.push(heap.pop() as FrameworkState);
        chosen = heap.peek();
      }
      if (chosen) {
        const offered = agent.free;
        agent.free = emptyLike(agent.total);
        this.holdOn(agent, chosen, offered);
        chosen.share = this.shareOf(chosen);
        heap.updateTop();
        this.available.delete(agentId);
        allocations.push({ frameworkId: chosen.id, agentId, resources: cloneResources(offered) }); // a copy: `offered` is ours now
      }
      for (const framework of skipped) heap.push(framework);
      skipped.length = 0;
    }
    return allocations;
  }

  // ---- for tests and metrics -----------------------------------------------------------------------

  /** Max over cpus, mem, disk of allocated / cluster total, divided by the role weight (0 if unknown). */
  dominantShare(frameworkId: string): number {
    const framework = this.frameworks.get(frameworkId);
    return framework ? this.shareOf(framework) : 0;
  }

  /** What is free on an agent (a copy), or undefined for an unknown agent. */
  free(agentId: string): Resources | undefined {
    const agent = this.agents.get(agentId);
    return agent ? cloneResources(agent.free) : undefined;
  }

  /** What a framework holds on one agent (a copy), or undefined when nothing. */
  allocated(frameworkId: string, agentId: string): Resources | undefined {
    const held = this.agents.get(agentId)?.allocations.get(frameworkId);
    return held ? cloneResources(held) : undefined;
  }

  /** Counts for metrics. */
  stats(): { agents: number; frameworks: number; eligibleFrameworks: number; agentsWithFree: number; filters: number } {
    let filters = 0;
    for (const framework of this.frameworks.values()) filters += framework.filters.size;
    return {
      agents: this.agents.size,
      frameworks: this.frameworks.size,
      eligibleFrameworks: this.eligibleCount,
      agentsWithFree: this.available.size,
      filters,
    };
  }

  // ---- internals -----------------------------------------------------------------------------------

  private createFramework(frameworkId: string, role: string, active: boolean): FrameworkState {
    const framework: FrameworkState = {
      id: frameworkId,
      role,
      weight: this.weightOf(role),
      active,
      suppressed: false,
      eligible: false,
      cpus: 0,
      mem: 0,
      disk: 0,
      agents: new Set(),
      filters: new Map(),
      share: 0,
    };
    this.frameworks.set(frameworkId, framework);
    this.refreshEligibility(framework);
    return framework;
  }

  private weightOf(role: string): number {
    return this.roleWeights[role] ?? 1;
  }

  private shareOf(framework: FrameworkState): number {
    let share = 0;
    if (this.totalCpus > 0) share = framework.cpus / this.totalCpus;
    if (this.totalMem > 0) share = Math.max(share, framework.mem / this.totalMem);
    if (this.totalDisk > 0) share = Math.max(share, framework.disk / this.totalDisk);
    return share / framework.weight;
  }

  /** Adds `resources` to what `framework` holds on `agent` (the caller took them out of free). */
  private holdOn(agent: AgentState, framework: FrameworkState, resources: Resources): void {
    const held = agent.allocations.get(framework.id);
    // `resources` is the caller's to keep only when it is a fresh object nobody else holds (see callers).
    agent.allocations.set(framework.id, held ? addResources(held, resources) : resources);
    framework.agents.add(agent.id);
    this.addToFramework(framework, resources, 1);
  }

  private addToFramework(framework: FrameworkState, r: Resources, sign: 1 | -1): void {
    framework.cpus = Math.max(0, roundScalar(framework.cpus + sign * r.cpus));
    framework.mem = Math.max(0, roundScalar(framework.mem + sign * r.mem));
    framework.disk = Math.max(0, roundScalar(framework.disk + sign * (r.disk ?? 0)));
  }

  private addToTotals(r: Resources, sign: 1 | -1): void {
    this.totalCpus = Math.max(0, roundScalar(this.totalCpus + sign * r.cpus));
    this.totalMem = Math.max(0, roundScalar(this.totalMem + sign * r.mem));
    this.totalDisk = Math.max(0, roundScalar(this.totalDisk + sign * (r.disk ?? 0)));
  }

  private refreshAvailability(agent: AgentState): void {
    if (agent.free.cpus >= this.minAllocatable.cpus || agent.free.mem >= this.minAllocatable.mem) this.available.add(agent.id);
    else this.available.delete(agent.id);
  }

  /** Recomputes `eligible`; when it flips, the eligible count and the per-agent filter counts follow. */
  private refreshEligibility(framework: FrameworkState): void {
    const eligible = framework.active && !framework.suppressed;
    if (eligible === framework.eligible) return;
    framework.eligible = eligible;
    const delta = eligible ? 1 : -1;
    this.eligibleCount += delta;
    for (const agentId of framework.filters.keys()) {
      const agent = this.agents.get(agentId);
      if (agent) agent.eligibleFilters += delta;
    }
  }

  private removeFilter(framework: FrameworkState, agentId: string): void {
    if (!framework.filters.delete(agentId)) return;
    const agent = this.agents.get(agentId);
    if (!agent) return;
    agent.filteredBy.delete(framework.id);
    if (framework.eligible) agent.eligibleFilters--;
  }

  private clearFilters(framework: FrameworkState): void {
    for (const agentId of [...framework.filters.keys()]) this.removeFilter(framework, agentId);
  }

  private expireFilters(now: number): void {
    for (let next = this.expiries.peek(); next && next.at <= now; next = this.expiries.peek()) {
      this.expiries.pop();
      const framework = this.frameworks.get(next.frameworkId);
      // Skip stale entries: the filter was replaced by a later decline, or already removed.
      if (framework && framework.filters.get(next.agentId) === next.at) this.removeFilter(framework, next.agentId);
    }
  }
}

// ---- resource helpers (on top of common's fixed-point arithmetic) ----------------------------------------

/** Only what is counted and offered: cpus, mem, disk, ports (`pids` is a limit). */
function countable(r: Resources): Resources {
  const out: Resources = { cpus: roundScalar(r.cpus), mem: roundScalar(r.mem) };
  if (r.disk !== undefined) out.disk = roundScalar(r.disk);
  if (r.ports && r.ports.length > 0) out.ports = addRanges([], r.ports);
  return out;
}

function cloneResources(r: Resources): Resources {
  const out: Resources = { cpus: r.cpus, mem: r.mem };
  if (r.disk !== undefined) out.disk = r.disk;
  if (r.ports && r.ports.length > 0) out.ports = r.ports.map((p) => ({ begin: p.begin, end: p.end }));
  return out;
}

/** Nothing, shaped like `shape` (disk present when it has disk), so free resources keep one shape. */
function emptyLike(shape: Resources): Resources {
  return shape.disk === undefined ? { cpus: 0, mem: 0 } : { cpus: 0, mem: 0, disk: 0 };
}

function withDiskOf(r: Resources, shape: Resources): Resources {
  if (shape.disk !== undefined && r.disk === undefined) r.disk = 0;
  return r;
}
