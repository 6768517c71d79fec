import assert from 'node:assert/strict';
import { containsResources, subtractResources, takePorts, type Resources } from '../../common/index.js';
import { AllocatorError, DrfAllocator, type Allocation, type AllocatorOptions } from './index.js';
import { MinHeap } from './min-heap.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now(): number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

function allocator(options: Partial<AllocatorOptions> = {}): { drf: DrfAllocator; clock: ReturnType<typeof manualClock> } {
  const clock = manualClock();
  return { drf: new DrfAllocator({ clock, ...options }), clock };
}

/**
 * A simple driver: each framework launches ONE task of its shape per offer when it fits and returns
 * the rest; an offer it cannot use is declined (default filter). Runs until no offers come.
 * Returns tasks launched per framework.
 */
function runUntilFull(drf: DrfAllocator, shapes: Record<string, Resources>, maxCycles = 10_000): Record<string, number> {
  const launched: Record<string, number> = Object.fromEntries(Object.keys(shapes).map((id) => [id, 0]));
  for (let cycle = 0; cycle < maxCycles; cycle++) {
    const offers = drf.allocate();
    if (offers.length === 0) return launched;
    for (const offer of offers) {
      const shape = shapes[offer.frameworkId];
      assert.ok(shape, `offer to unknown framework ${offer.frameworkId}`);
      if (containsResources(offer.resources, shape)) {
        launched[offer.frameworkId] = (launched[offer.frameworkId] ?? 0) + 1;
        drf.recover(offer.frameworkId, offer.agentId, subtractResources(offer.resources, shape));
      } else {
        drf.recover(offer.frameworkId, offer.agentId, offer.resources);
        drf.decline(offer.frameworkId, offer.agentId);
      }
    }
  }
  assert.fail('driver did not settle');
}

const GB = 1024;

describe('DrfAllocator', () => {
  describe('DRF', () => {
    it('splits one 9 cpu / 18 GB agent as the DRF paper does: 3 tasks <1, 4 GB> and 2 tasks <3, 1 GB>, both at 2/3', () => {
      const { drf } = allocator();
      drf.addAgent('agent-1', { cpus: 9, mem: 18 * GB });
      drf.addFramework('a');
      drf.addFramework('b');
      const launched = runUntilFull(drf, { a: { cpus: 1, mem: 4 * GB }, b: { cpus: 3, mem: 1 * GB } });
      assert.deepEqual(launched, { a: 3, b: 2 });
      assert.ok(Math.abs(drf.dominantShare('a') - 2 / 3) < 1e-9, `a: ${drf.dominantShare('a')}`);
      assert.ok(Math.abs(drf.dominantShare('b') - 2 / 3) < 1e-9, `b: ${drf.dominantShare('b')}`);
    });

    it('gives every agent to the framework whose share is lowest at that moment (checked from outside)', () => {
      const { drf } = allocator();
      const agents = 12;
      for (let i = 0; i < agents; i++) drf.addAgent(`agent-${i}`, { cpus: 8, mem: 32 * GB });
      const shapes: Record<string, Resources> = {
        f1: { cpus: 1, mem: 4 * GB },
        f2: { cpus: 3, mem: 1 * GB },
        f3: { cpus: 0.5, mem: 512 },
      };
      for (const id of Object.keys(shapes)) drf.addFramework(id);
      const totals = { cpus: agents * 8, mem: agents * 32 * GB };
      const share = (r: { cpus: number; mem: number }): number => Math.max(r.cpus / totals.cpus, r.mem / totals.mem);
      const tasks: Record<string, number> = { f1: 0, f2: 0, f3: 0 };
      const declined = new Set<string>(); // `${framework} ${agent}`: the clock stands still, so filters hold
      let checked = 0;
      for (let cycle = 0; cycle < 200; cycle++) {
        // What each framework holds between cycles: its launched tasks (the driver returns the rest).
        const held = Object.fromEntries(
          Object.entries(shapes).map(([id, shape]) => [id, { cpus: tasks[id]! * shape.cpus, mem: tasks[id]! * shape.mem }]),
        );
        for (const id of Object.keys(shapes)) assert.ok(Math.abs(drf.dominantShare(id) - share(held[id]!)) < 1e-9);
        const offers = drf.allocate();
        if (offers.length === 0) break;
        for (const offer of offers) {
          const mine = share(held[offer.frameworkId]!);
          const candidates = Object.keys(shapes).filter((id) => !declined.has(`${id} ${offer.agentId}`));
          assert.ok(!declined.has(`${offer.frameworkId} ${offer.agentId}`), 'a filtered agent was offered');
          const lowest = Math.min(...candidates.map((id) => share(held[id]!)));
          assert.ok(mine <= lowest + 1e-12, `cycle ${cycle}: ${offer.agentId} went to ${offer.frameworkId} at ${mine}, lowest ${lowest}`);
          // The offer counts at once.
          held[offer.frameworkId]!.cpus += offer.resources.cpus;
          held[offer.frameworkId]!.mem += offer.resources.mem;
          checked++;
        }
        for (const offer of offers) {
          const shape = shapes[offer.frameworkId]!;
          if (containsResources(offer.resources, shape)) {
            tasks[offer.frameworkId]!++;
            drf.recover(offer.frameworkId, offer.agentId, subtractResources(offer.resources, shape));
          } else {
            drf.recover(offer.frameworkId, offer.agentId, offer.resources);
            drf.decline(offer.frameworkId, offer.agentId);
            declined.add(`${offer.frameworkId} ${offer.agentId}`);
          }
        }
      }
      assert.ok(checked > 50, `checked ${checked} offers`);
    });

    it('breaks ties by framework id, and each allocation counts at once', () => {
      const { drf } = allocator();
      drf.addFramework('b');
      drf.addFramework('a');
      drf.addAgent('x', { cpus: 4, mem: 4 * GB });
      drf.addAgent('y', { cpus: 4, mem: 4 * GB });
      const offers = drf.allocate();
      assert.deepEqual(
        offers.map((o) => [o.agentId, o.frameworkId]),
        [
          ['x', 'a'],
          ['y', 'b'],
        ],
      );
      assert.equal(drf.dominantShare('a'), 0.5);
      assert.deepEqual(drf.free('x'), { cpus: 0, mem: 0 });
      assert.deepEqual(drf.allocate(), [], 'nothing is free');
    });

    it('divides shares by role weight: a weight-2 role gets about twice the tasks', () => {
      const { drf } = allocator({ roleWeights: { gold: 2 } });
      for (let i = 0; i < 3; i++) drf.addAgent(`agent-${i}`, { cpus: 10, mem: 10 * GB });
      drf.addFramework('gold-fw', { role: 'gold' });
      drf.addFramework('plain-fw');
      const shape = { cpus: 1, mem: 1 * GB };
      const launched = runUntilFull(drf, { 'gold-fw': shape, 'plain-fw': shape });
      assert.deepEqual(launched, { 'gold-fw': 20, 'plain-fw': 10 });
      assert.ok(Math.abs(drf.dominantShare('gold-fw') - drf.dominantShare('plain-fw')) < 1e-9);
      assert.throws(() => new DrfAllocator({ clock: manualClock(), roleWeights: { bad: 0 } }), AllocatorError);
    });

    it('counts disk in the dominant share but not ports', () => {
      const { drf } = allocator();
      drf.addAgent('x', { cpus: 10, mem: 10 * GB, disk: 1000, ports: [{ begin: 31000, end: 31009 }] });
      drf.addFramework('f');
      const [offer] = drf.allocate();
      assert.ok(offer);
      drf.recover('f', 'x', subtractResources(offer.resources, { cpus: 1, mem: 1 * GB, disk: 500, ports: offer.resources.ports ?? [] }));
      assert.equal(drf.dominantShare('f'), 0.5, 'disk 500/1000 dominates; all ten ports held do not count');
    });
  });

  describe('decline filters', () => {
    it('honours a filter until it expires, and revive clears it', () => {
      const { drf, clock } = allocator();
      drf.addAgent('x', { cpus: 2, mem: 2 * GB });
      drf.addFramework('f');
      const [offer] = drf.allocate();
      assert.ok(offer);
      drf.recover('f', 'x', offer.resources);
      drf.decline('f', 'x', 10);
      assert.deepEqual(drf.allocate(), []);
      clock.advance(9_999);
      assert.deepEqual(drf.allocate(), [], 'still filtered at 9.999 s');
      clock.advance(1);
      assert.equal(drf.allocate().length, 1, 'offered again at 10 s');

      drf.recover('f', 'x', { cpus: 2, mem: 2 * GB });
      drf.decline('f', 'x'); // default 5 s
      assert.deepEqual(drf.allocate(), []);
      drf.revive('f');
      assert.equal(drf.allocate().length, 1, 'revive clears the filter at once');
    });

    it('a later decline replaces the expiry; refuse_seconds 0 installs no filter', () => {
      const { drf, clock } = allocator();
      drf.addAgent('x', { cpus: 2, mem: 2 * GB });
      drf.addFramework('f');
      drf.allocate();
      drf.recover('f', 'x', { cpus: 2, mem: 2 * GB });
      drf.decline('f', 'x', 1);
      drf.decline('f', 'x', 60);
      clock.advance(2_000);
      assert.deepEqual(drf.allocate(), [], 'the 60 s filter holds after the 1 s one would have expired');
      drf.revive('f');
      drf.allocate();
      drf.recover('f', 'x', { cpus: 2, mem: 2 * GB });
      drf.decline('f', 'x', 0);
      assert.equal(drf.allocate().length, 1);
    });

    it('a framework that declined does not starve others: the agent goes to the next lowest share', () => {
      const { drf } = allocator();
      drf.addAgent('x', { cpus: 2, mem: 2 * GB });
      drf.addAgent('y', { cpus: 2, mem: 2 * GB });
      drf.addFramework('a');
      drf.addFramework('b');
      drf.addFramework('c');
      // a holds nothing (lowest share) but has declined both agents.
      drf.decline('a', 'x', 60);
      drf.decline('a', 'y', 60);
      const offers = drf.allocate();
      assert.deepEqual(
        offers.map((o) => [o.agentId, o.frameworkId]),
        [
          ['x', 'b'],
          ['y', 'c'],
        ],
      );
      assert.equal(drf.stats().filters, 2);
    });

    it('skips an agent every eligible framework filtered, and offers it when one becomes eligible', () => {
      const { drf } = allocator();
      drf.addAgent('x', { cpus: 2, mem: 2 * GB });
      drf.addFramework('a');
      drf.addFramework('b');
      drf.decline('a', 'x', 60);
      drf.suppress('b');
      assert.deepEqual(drf.allocate(), []);
      drf.revive('b');
      assert.deepEqual(
        drf.allocate().map((o) => o.frameworkId),
        ['b'],
      );
    });
  });

  describe('framework lifecycle', () => {
    it('suppress stops offers until revive', () => {
      const { drf } = allocator();
      drf.addAgent('x', { cpus: 2, mem: 2 * GB });
      drf.addFramework('f');
      drf.suppress('f');
      assert.deepEqual(drf.allocate(), []);
      drf.revive('f');
      assert.equal(drf.allocate()[0]?.frameworkId, 'f');
    });

    it('deactivate stops offers but keeps allocations; activate resumes', () => {
      const { drf } = allocator();
      drf.addAgent('x', { cpus: 4, mem: 4 * GB });
      drf.addAgent('y', { cpus: 4, mem: 4 * GB });
      drf.addFramework('f');
      const [first] = drf.allocate();
      assert.ok(first);
      assert.equal(drf.stats().agentsWithFree, 0, 'the only framework got both agents');
      drf.recover('f', 'x', { cpus: 3, mem: 3 * GB }); // keeps <1, 1 GB> on x for a task
      drf.recover('f', 'y', { cpus: 4, mem: 4 * GB });
      const share = drf.dominantShare('f');
      assert.ok(share > 0);
      drf.deactivateFramework('f');
      assert.deepEqual(drf.allocate(), []);
      assert.equal(drf.dominantShare('f'), share, 'still holds its task');
      assert.deepEqual(drf.allocated('f', 'x'), { cpus: 1, mem: 1 * GB });
      drf.activateFramework('f');
      assert.equal(drf.allocate().length, 2, 'both agents have free resources again');
    });

    it('removeFramework returns its allocations to the pool', () => {
      const { drf } = allocator();
      drf.addAgent('x', { cpus: 4, mem: 4 * GB, ports: [{ begin: 31000, end: 31099 }] });
      drf.addFramework('a');
      drf.addFramework('b');
      drf.suppress('b');
      assert.equal(drf.allocate()[0]?.frameworkId, 'a');
      drf.removeFramework('a');
      assert.deepEqual(drf.free('x'), { cpus: 4, mem: 4 * GB, ports: [{ begin: 31000, end: 31099 }] });
      assert.equal(drf.dominantShare('a'), 0);
      drf.revive('b');
      assert.equal(drf.allocate()[0]?.frameworkId, 'b');
      drf.recover('a', 'x', { cpus: 1, mem: 1 }); // late recover of a removed framework: ignored
      assert.deepEqual(drf.free('x'), { cpus: 0, mem: 0 });
    });

    it('removeAgent forgets its allocations and filters; its resources leave the cluster total', () => {
      const { drf } = allocator();
      drf.addAgent('x', { cpus: 4, mem: 4 * GB });
      drf.addAgent('y', { cpus: 4, mem: 4 * GB });
      drf.addFramework('f');
      drf.addFramework('g');
      drf.suppress('g');
      const offers = drf.allocate();
      assert.equal(offers.length, 2);
      drf.recover('f', 'y', { cpus: 4, mem: 4 * GB });
      drf.decline('f', 'y', 60);
      assert.equal(drf.dominantShare('f'), 0.5);
      drf.removeAgent('x');
      assert.equal(drf.free('x'), undefined);
      assert.equal(drf.dominantShare('f'), 0, 'x was all it held');
      drf.recover('f', 'x', { cpus: 4, mem: 4 * GB }); // ignored
      drf.addAgent('x', { cpus: 8, mem: 8 * GB });
      assert.equal(drf.allocate()[0]?.agentId, 'x');
      assert.equal(drf.dominantShare('f'), 8 / 12);
      drf.removeAgent('y');
      assert.equal(drf.stats().filters, 0, 'the filter on y went with it');
    });

    it('updateAgent changes totals and keeps allocations', () => {
      const { drf } = allocator();
      drf.addAgent('x', { cpus: 4, mem: 4 * GB });
      drf.addFramework('f');
      drf.allocate();
      drf.recover('f', 'x', { cpus: 3, mem: 3 * GB });
      drf.updateAgent('x', { cpus: 8, mem: 8 * GB, pids: 100 });
      assert.deepEqual(drf.free('x'), { cpus: 7, mem: 7 * GB });
      assert.equal(drf.dominantShare('f'), 1 / 8);
    });
  });

  describe('resources', () => {
    it('allocateUsed counts tasks found at re-registration; recover returns them', () => {
      const { drf } = allocator();
      drf.addAgent('x', { cpus: 4, mem: 4 * GB, ports: [{ begin: 31000, end: 31009 }] });
      // The framework has not re-subscribed yet: it is known, inactive, and gets no offers.
      drf.allocateUsed('old', 'x', { cpus: 1, mem: 1 * GB, ports: [{ begin: 31005, end: 31005 }] });
      assert.deepEqual(drf.free('x'), {
        cpus: 3,
        mem: 3 * GB,
        ports: [
          { begin: 31000, end: 31004 },
          { begin: 31006, end: 31009 },
        ],
      });
      assert.equal(drf.dominantShare('old'), 0.25);
      assert.deepEqual(drf.allocate(), [], 'no active framework');
      drf.addFramework('old');
      const [offer] = drf.allocate();
      assert.deepEqual(offer?.resources.cpus, 3, 'only the free part is offered');
      drf.recover('old', 'x', { cpus: 100, mem: 100 * GB, ports: [{ begin: 1, end: 65535 }] });
      assert.deepEqual(drf.free('x'), { cpus: 4, mem: 4 * GB, ports: [{ begin: 31000, end: 31009 }] }, 'never more than it held');
      assert.equal(drf.dominantShare('old'), 0);
      assert.throws(() => drf.allocateUsed('old', 'nope', { cpus: 1, mem: 1 }), AllocatorError);
    });

    it('does not offer less than minAllocatable', () => {
      const { drf } = allocator();
      drf.addAgent('x', { cpus: 1, mem: 1 * GB });
      drf.addFramework('f');
      const [offer] = drf.allocate();
      assert.ok(offer);
      drf.recover('f', 'x', { cpus: 0.005, mem: 16 });
      assert.deepEqual(drf.allocate(), [], '0.005 cpus and 16 MB are below Mesos’s minimum');
      drf.recover('f', 'x', { cpus: 0.005, mem: 0 });
      assert.equal(drf.allocate()[0]?.resources.cpus, 0.01, '0.01 cpus is enough (cpus OR mem)');

      const strict = allocator({ minAllocatable: { cpus: 1, mem: 1 * GB } }).drf;
      strict.addAgent('x', { cpus: 2, mem: 2 * GB });
      strict.addFramework('f');
      strict.allocate();
      strict.recover('f', 'x', { cpus: 0.5, mem: 512 });
      assert.deepEqual(strict.allocate(), []);
      strict.recover('f', 'x', { cpus: 0.5, mem: 0 });
      assert.equal(strict.allocate().length, 1);
    });

    it('offers ports and gets exactly the unused ones back', () => {
      const { drf } = allocator();
      drf.addAgent('x', { cpus: 4, mem: 4 * GB, disk: 100, ports: [{ begin: 31000, end: 32000 }] });
      drf.addFramework('f');
      const [offer] = drf.allocate() as [Allocation];
      assert.deepEqual(offer.resources, { cpus: 4, mem: 4 * GB, disk: 100, ports: [{ begin: 31000, end: 32000 }] });
      const task: Resources = { cpus: 1, mem: 1 * GB, ports: takePorts(offer.resources.ports ?? [], 2) };
      drf.recover('f', 'x', subtractResources(offer.resources, task));
      assert.deepEqual(drf.free('x'), { cpus: 3, mem: 3 * GB, disk: 100, ports: [{ begin: 31002, end: 32000 }] });
      assert.deepEqual(drf.allocated('f', 'x'), { cpus: 1, mem: 1 * GB, disk: 0, ports: [{ begin: 31000, end: 31001 }] });
      const [next] = drf.allocate();
      assert.deepEqual(next?.resources.ports, [{ begin: 31002, end: 32000 }], 'the task’s ports are not offered again');
      drf.recover('f', 'x', next?.resources ?? { cpus: 0, mem: 0 });
      drf.recover('f', 'x', task); // the task ended
      assert.deepEqual(drf.free('x'), { cpus: 4, mem: 4 * GB, disk: 100, ports: [{ begin: 31000, end: 32000 }] });
      assert.equal(drf.allocated('f', 'x'), undefined);
    });
  });

  describe('cost', () => {
    it('a quiet cycle on a large cluster visits nothing', () => {
      const { drf } = allocator();
      for (let i = 0; i < 2000; i++) drf.addAgent(`a${i}`, { cpus: 8, mem: 32 * GB });
      for (let i = 0; i < 200; i++) drf.addFramework(`f${i}`);
      assert.equal(drf.allocate().length, 2000);
      assert.deepEqual(drf.stats().agentsWithFree, 0);
      const started = performance.now();
      for (let i = 0; i < 100; i++) assert.deepEqual(drf.allocate(), []);
      const perCycle = (performance.now() - started) / 100;
      assert.ok(perCycle < 1, `quiet cycle took ${perCycle.toFixed(3)} ms`);
    });
  });
});

describe('MinHeap', () => {
  it('pops in order, and updateTop restores order after the top grows', () => {
    const values = Array.from({ length: 200 }, (_, i) => (i * 7919) % 211);
    const heap = new MinHeap([...values], (a, b) => a < b);
    const popped: number[] = [];
    for (let v = heap.pop(); v !== undefined; v = heap.pop()) popped.push(v);
    assert.deepEqual(popped, [...values].sort((a, b) => a - b));

    const boxes = [{ k: 1 }, { k: 2 }, { k: 3 }];
    const h = new MinHeap([...boxes], (a, b) => a.k < b.k);
    (h.peek() as { k: number }).k = 10;
    h.updateTop();
    assert.equal(h.peek()?.k, 2);
    h.push({ k: 0 });
    assert.equal(h.pop()?.k, 0);
    assert.equal(h.size, 3);
  });
});
