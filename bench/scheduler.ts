// npm run bench:scheduler — the DRF allocator in-process (no HTTP), against a naive first-fit loop
// over the same data measured in the same run.
//   (a) allocation cycle time, p50/p99, for agents × frameworks in {1,000, 10,000} × {10, 100, 1,000}:
//       steady churn (every framework always has work queued, tasks end after 3–10 cycles)
//   (b) tasks placed/s to place 100,000 tasks (mixed shapes, queued on the frameworks at the start),
//       counting everything the master and frameworks do in-process: allocate, pack offers, recover
//       the rest, decline, task ends
//   (c) the naive baseline: one plain first-fit loop of the same 100,000 tasks over the same agents,
//       with the same task durations (in rounds)
// One simulated cycle is one second of the injected clock (Mesos's allocation interval); nothing sleeps,
// so the figures are the CPU cost of scheduling alone.
// Sizes: BENCH_TASKS (default 100000), BENCH_CYCLES (measured cycles per config in (a), default 20),
// BENCH_AGENTS (default 1000,10000), BENCH_FRAMEWORKS (default 10,100,1000).
import { subtractRanges, takePorts, type PortRange, type Resources } from '../common/index.js';
import { DrfAllocator } from '../master/allocator/index.js';
import { ms, summarize } from './stats.js';

const TASKS = Number(process.env.BENCH_TASKS ?? 100_000);
const CYCLES = Number(process.env.BENCH_CYCLES ?? 20);
const WARMUP_CYCLES = 3;
const list = (value: string | undefined, fallback: number[]): number[] => (value ? value.split(',').map(Number) : fallback);
const AGENT_COUNTS = list(process.env.BENCH_AGENTS, [1_000, 10_000]);
const FRAMEWORK_COUNTS = list(process.env.BENCH_FRAMEWORKS, [10, 100, 1_000]);
const GOAL_CYCLE_MS = 100;
const GOAL_TASKS_PER_S = 5_000;
/** Mesos's own figure for the same cluster size (issue text). */
const MESOS_CYCLE_MS = 1_060;

const AGENT: Resources = { cpus: 8, mem: 32 * 1024, disk: 100 * 1024, ports: [{ begin: 31000, end: 32000 }] };
const AGENT_PORT_COUNT = 1001;

interface Shape {
  cpus: number;
  mem: number;
  disk: number;
  ports: number;
}
/** Small tasks of mixed shapes, some wanting ports. */
const SHAPES: readonly Shape[] = [
  { cpus: 0.1, mem: 128, disk: 0, ports: 0 },
  { cpus: 0.25, mem: 256, disk: 64, ports: 1 },
  { cpus: 0.5, mem: 512, disk: 0, ports: 0 },
  { cpus: 1, mem: 2048, disk: 256, ports: 2 },
  { cpus: 2, mem: 4096, disk: 0, ports: 1 },
];
const MIN_CPUS = Math.min(...SHAPES.map((s) => s.cpus));
const MIN_MEM = Math.min(...SHAPES.map((s) => s.mem));

interface Task {
  shape: Shape;
  /** Cycles it runs once placed. */
  duration: number;
}

/** Deterministic PRNG (mulberry32), so every run and both loops see the same tasks. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeTasks(n: number, seed: number): Task[] {
  const random = prng(seed);
  return Array.from({ length: n }, () => ({
    shape: SHAPES[Math.floor(random() * SHAPES.length)] as Shape,
    duration: 3 + Math.floor(random() * 8),
  }));
}

// ---- the framework side of the simulation -----------------------------------------------------------

interface Running {
  frameworkId: string;
  agentId: string;
  resources: Resources;
}

/** A framework's FIFO of pending tasks; placed entries become null and the head skips past them. */
class TaskQueue {
  private items: Array<Task | null> = [];
  private head = 0;
  private live = 0;

  get size(): number {
    return this.live;
  }

  push(task: Task): void {
    this.items.push(task);
    this.live++;
  }

  /**
   * First fit within one offer: walks the queue (at most `window` pending tasks) and takes every task
   * that still fits into what is left of the offer. Returns the tasks launched and the rest of the offer.
   */
  pack(offer: Resources, window: number): { launched: Array<{ task: Task; resources: Resources }>; rest: Resources } {
    let cpus = offer.cpus;
    let mem = offer.mem;
    let disk = offer.disk ?? 0;
    let ports: PortRange[] = offer.ports ?? [];
    let portCount = ports.reduce((sum, r) => sum + r.end - r.begin + 1, 0);
    const launched: Array<{ task: Task; resources: Resources }> = [];
    let seen = 0;
    for (let i = this.head; i < this.items.length && seen < window; i++) {
      const task = this.items[i];
      if (!task) continue;
      seen++;
      const s = task.shape;
      if (s.cpus > cpus + 1e-9 || s.mem > mem + 1e-9 || s.disk > disk + 1e-9 || s.ports > portCount) continue;
      const resources: Resources = { cpus: s.cpus, mem: s.mem };
      if (s.disk > 0) resources.disk = s.disk;
      if (s.ports > 0) {
        const taken = takePorts(ports, s.ports);
        resources.ports = taken;
        ports = subtractRanges(ports, taken);
        portCount -= s.ports;
      }
      cpus = Math.round((cpus - s.cpus) * 1000) / 1000;
      mem -= s.mem;
      disk -= s.disk;
      launched.push({ task, resources });
      this.items[i] = null;
      this.live--;
      if (cpus < MIN_CPUS - 1e-9 || mem < MIN_MEM) break;
    }
    while (this.head < this.items.length && this.items[this.head] === null) this.head++;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    const rest: Resources = { cpus, mem, disk };
    if (ports.length > 0) rest.ports = ports;
    return { launched, rest };
  }
}

interface SimOptions {
  agents: number;
  frameworks: number;
  /** Where new tasks come from: a fixed list (placement run) or an endless supply (cycle-time run). */
  source: { kind: 'list'; tasks: readonly Task[] } | { kind: 'endless'; perFramework: number; seed: number };
}

/** Master + frameworks in one process, driven cycle by cycle on a manual clock. */
class Simulation {
  private now = 0;
  private cycle = 0;
  readonly drf: DrfAllocator;
  private readonly queues = new Map<string, TaskQueue>();
  /** cycle → tasks that end then. */
  private readonly ending = new Map<number, Running[]>();
  private readonly refill: (() => Task) | undefined;
  private readonly perFramework: number;
  placed = 0;
  declines = 0;

  constructor(options: SimOptions) {
    this.drf = new DrfAllocator({ clock: { now: () => this.now } });
    for (let i = 0; i < options.agents; i++) this.drf.addAgent(`agent-${i}`, AGENT);
    const ids = Array.from({ length: options.frameworks }, (_, i) => `framework-${String(i).padStart(4, '0')}`);
    for (const id of ids) {
      this.drf.addFramework(id);
      this.queues.set(id, new TaskQueue());
    }
    const source = options.source;
    if (source.kind === 'list') {
      source.tasks.forEach((task, i) => this.queues.get(ids[i % ids.length] as string)?.push(task));
      this.refill = undefined;
      this.perFramework = 0;
    } else {
      const more = makeTasks(65_536, source.seed);
      let next = 0;
      this.refill = () => more[next++ % more.length] as Task;
      this.perFramework = source.perFramework;
      for (const queue of this.queues.values()) for (let k = 0; k < source.perFramework; k++) queue.push(this.refill());
    }
  }

  /** One cycle; returns how long allocate() alone took (ms) and how many offers it made. */
  step(): { allocateMs: number; offers: number } {
    this.cycle++;
    this.now += 1000;
    for (const task of this.ending.get(this.cycle) ?? []) this.drf.recover(task.frameworkId, task.agentId, task.resources);
    this.ending.delete(this.cycle);

    const started = performance.now();
    const offers = this.drf.allocate();
    const allocateMs = performance.now() - started;

    for (const offer of offers) {
      const queue = this.queues.get(offer.frameworkId) as TaskQueue;
      const { launched, rest } = queue.pack(offer.resources, 256);
      for (const { task, resources } of launched) {
        const end = this.cycle + task.duration;
        let list = this.ending.get(end);
        if (!list) this.ending.set(end, (list = []));
        list.push({ frameworkId: offer.frameworkId, agentId: offer.agentId, resources });
      }
      this.placed += launched.length;
      this.drf.recover(offer.frameworkId, offer.agentId, rest);
      if (launched.length === 0) {
        this.drf.decline(offer.frameworkId, offer.agentId); // Mesos default: 5 s
        this.declines++;
      }
      if (this.refill) {
        while (queue.size < this.perFramework) queue.push(this.refill());
      } else if (queue.size === 0) {
        this.drf.suppress(offer.frameworkId); // nothing left to run: stop asking
      }
    }
    return { allocateMs, offers: offers.length };
  }

  get cycles(): number {
    return this.cycle;
  }
}

// ---- the naive baseline -------------------------------------------------------------------------------

/**
 * A plain first-fit loop: per round, end the tasks due, then walk the pending tasks in order and put
 * each on the first agent (from agent 0) with room. A round stops at the first task that fits nowhere
 * (FIFO), otherwise a full cluster would cost pending × agents per round.
 */
function naiveFirstFit(agents: number, tasks: readonly Task[]): { ms: number; rounds: number } {
  const started = performance.now();
  // Integer milli-cpus so sums are exact, like the allocator's fixed point.
  const cpus = new Int32Array(agents).fill(AGENT.cpus * 1000);
  const mem = new Float64Array(agents).fill(AGENT.mem);
  const disk = new Float64Array(agents).fill(AGENT.disk ?? 0);
  const ports = new Int32Array(agents).fill(AGENT_PORT_COUNT);
  const ending = new Map<number, Array<{ agent: number; shape: Shape }>>();
  let next = 0;
  let round = 0;
  while (next < tasks.length) {
    round++;
    for (const t of ending.get(round) ?? []) {
      cpus[t.agent]! += Math.round(t.shape.cpus * 1000);
      mem[t.agent]! += t.shape.mem;
      disk[t.agent]! += t.shape.disk;
      ports[t.agent]! += t.shape.ports;
    }
    ending.delete(round);
    for (; next < tasks.length; next++) {
      const task = tasks[next] as Task;
      const s = task.shape;
      const c = Math.round(s.cpus * 1000);
      let placedOn = -1;
      for (let a = 0; a < agents; a++) {
        if (cpus[a]! >= c && mem[a]! >= s.mem && disk[a]! >= s.disk && ports[a]! >= s.ports) {
          placedOn = a;
          break;
        }
      }
      if (placedOn < 0) break;
      cpus[placedOn]! -= c;
      mem[placedOn]! -= s.mem;
      disk[placedOn]! -= s.disk;
      ports[placedOn]! -= s.ports;
      const end = round + task.duration;
      let list = ending.get(end);
      if (!list) ending.set(end, (list = []));
      list.push({ agent: placedOn, shape: s });
    }
  }
  return { ms: performance.now() - started, rounds: round };
}

// ---- runs -------------------------------------------------------------------------------------------

function cycleTimes(agents: number, frameworks: number): { first: number; p50: number; p99: number; offersPerCycle: number } {
  const sim = new Simulation({ agents, frameworks, source: { kind: 'endless', perFramework: 64, seed: 7 } });
  const first = sim.step().allocateMs;
  for (let i = 1; i < WARMUP_CYCLES; i++) sim.step();
  const samples: number[] = [];
  let offers = 0;
  for (let i = 0; i < CYCLES; i++) {
    const step = sim.step();
    samples.push(step.allocateMs);
    offers += step.offers;
  }
  const { p50, p99 } = summarize(samples);
  return { first, p50, p99, offersPerCycle: offers / CYCLES };
}

function placement(agents: number, frameworks: number, tasks: readonly Task[]): { ms: number; cycles: number; declines: number } {
  const started = performance.now();
  const sim = new Simulation({ agents, frameworks, source: { kind: 'list', tasks } });
  while (sim.placed < tasks.length) {
    sim.step();
    if (sim.cycles > 100_000) throw new Error(`placement did not finish: ${sim.placed}/${tasks.length}`);
  }
  return { ms: performance.now() - started, cycles: sim.cycles, declines: sim.declines };
}

function pad(value: string, width: number): string {
  return value.padStart(width);
}

function main(): void {
  const benchStarted = performance.now();
  const tasks = makeTasks(TASKS, 42);
  console.log(`bench:scheduler — ${TASKS} tasks of ${SHAPES.length} shapes; agents of 8 cpus / 32 GB / 100 GB disk / ports 31000-32000`);
  console.log(`(a) allocate() per cycle under steady churn, ${CYCLES} cycles after ${WARMUP_CYCLES} warm-up; (b) placing all tasks; (c) naive first fit, same tasks`);
  console.log('');
  console.log(
    [
      pad('agents', 7),
      pad('frameworks', 10),
      pad('1st cycle', 10),
      pad('cycle p50', 10),
      pad('cycle p99', 10),
      pad('offers/cyc', 10),
      pad('DRF tasks/s', 12),
      pad('cycles', 7),
      pad('naive tasks/s', 14),
      pad('naive/DRF', 10),
    ].join(' '),
  );

  const goals: Array<{ what: string; ok: boolean }> = [];
  const naive = new Map<number, { ms: number; rounds: number }>();
  for (const agents of AGENT_COUNTS) {
    for (const frameworks of FRAMEWORK_COUNTS) {
      const cycle = cycleTimes(agents, frameworks);
      // Naive and DRF placement back to back, so both see the same machine state.
      const base = naiveFirstFit(agents, tasks);
      const prior = naive.get(agents);
      naive.set(agents, prior && prior.ms < base.ms ? prior : base);
      const drf = placement(agents, frameworks, tasks);
      const drfRate = (tasks.length / drf.ms) * 1000;
      const naiveRate = (tasks.length / base.ms) * 1000;
      console.log(
        [
          pad(String(agents), 7),
          pad(String(frameworks), 10),
          pad(ms(cycle.first), 10),
          pad(ms(cycle.p50), 10),
          pad(ms(cycle.p99), 10),
          pad(cycle.offersPerCycle.toFixed(0), 10),
          pad(drfRate.toFixed(0), 12),
          pad(String(drf.cycles), 7),
          pad(naiveRate.toFixed(0), 14),
          pad((naiveRate / drfRate).toFixed(2) + '×', 10),
        ].join(' '),
      );
      if (agents === 10_000 && frameworks === 1_000) {
        // Steady cycles offer every agent too (see offers/cycle), so p99 is the figure; the first cycle
        // also pays for JIT warm-up and is shown only for information.
        goals.push({
          what: `allocation cycle at 10,000 agents / 1,000 frameworks: p99 ${ms(cycle.p99)} ≤ ${GOAL_CYCLE_MS} ms (Mesos ≈ ${MESOS_CYCLE_MS} ms: ${(MESOS_CYCLE_MS / cycle.p99).toFixed(1)}× faster; cold first cycle ${ms(cycle.first)})`,
          ok: cycle.p99 <= GOAL_CYCLE_MS,
        });
      }
      goals.push({ what: `${agents} agents / ${frameworks} frameworks: ${drfRate.toFixed(0)} tasks placed/s ≥ ${GOAL_TASKS_PER_S}`, ok: drfRate >= GOAL_TASKS_PER_S });
    }
  }
  console.log('');
  console.log('naive first fit: one loop over the same tasks and agents (no offers, no fairness, no ports bookkeeping beyond counts);');
  console.log('naive/DRF > 1 means the naive loop placed faster.');
  for (const [agents, base] of naive) console.log(`  ${agents} agents: best ${ms(base.ms)} for ${tasks.length} tasks in ${base.rounds} rounds`);
  console.log('');
  console.log('goals:');
  for (const goal of goals) console.log(`  ${goal.ok ? 'PASS' : 'FAIL'}  ${goal.what}`);
  console.log(`\nwhole bench: ${((performance.now() - benchStarted) / 1000).toFixed(1)} s`);
  if (goals.some((g) => !g.ok)) process.exitCode = 1;
}

main();
