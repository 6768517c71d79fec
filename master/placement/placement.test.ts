import assert from 'node:assert/strict';
import { freeResources, placeTasks, sumResources, type PlacementAgent, type PlacementRequest } from './index.js';

function agent(id: string, cpus: number, mem: number, extra: Partial<PlacementAgent> = {}): PlacementAgent {
  return { agent_id: id, resources: { cpus, mem }, used: { cpus: 0, mem: 0, disk: 0 }, executors: ['command'], ...extra };
}
function task(id: string, cpus: number, mem: number, extra: Partial<PlacementRequest> = {}): PlacementRequest {
  return { task_id: id, resources: { cpus, mem }, executor: 'command', ...extra };
}

describe('placement (first fit)', () => {
  it('puts each task on the first agent with room, in FIFO order', () => {
    const placements = placeTasks(
      [task('a', 1, 512), task('b', 1, 512), task('c', 1, 512)],
      [agent('x', 2, 1024), agent('y', 4, 4096)],
    );
    assert.deepEqual(placements, [
      { task_id: 'a', agent_id: 'x' },
      { task_id: 'b', agent_id: 'x' },
      { task_id: 'c', agent_id: 'y' },
    ]);
  });

  it('leaves a task that fits nowhere out, without blocking the ones behind it', () => {
    const placements = placeTasks([task('big', 8, 512), task('small', 1, 128)], [agent('x', 2, 1024)]);
    assert.deepEqual(placements, [{ task_id: 'small', agent_id: 'x' }]);
  });

  it('subtracts what non-terminal tasks already use (cpus, mem, disk)', () => {
    const busy = agent('x', 2, 1024, { used: { cpus: 1.5, mem: 100, disk: 0 } });
    assert.deepEqual(placeTasks([task('a', 1, 100)], [busy]), []);
    assert.deepEqual(placeTasks([task('a', 0.5, 100)], [busy]), [{ task_id: 'a', agent_id: 'x' }]);
    const disky = agent('d', 4, 4096, { resources: { cpus: 4, mem: 4096, disk: 100 }, used: { cpus: 0, mem: 0, disk: 60 } });
    assert.deepEqual(placeTasks([task('t', 1, 1, { resources: { cpus: 1, mem: 1, disk: 50 } })], [disky]), []);
  });

  it('adds fractional cpus without float drift', () => {
    const placements = placeTasks([task('a', 0.1, 1), task('b', 0.2, 1)], [agent('x', 0.3, 10)]);
    assert.equal(placements.length, 2);
  });

  it('puts a DOCKER task only on an agent with the docker executor', () => {
    const placements = placeTasks(
      [task('d', 1, 64, { executor: 'docker' })],
      [agent('plain', 8, 8192), agent('dockerish', 1, 128, { executors: ['command', 'docker'] })],
    );
    assert.deepEqual(placements, [{ task_id: 'd', agent_id: 'dockerish' }]);
    assert.deepEqual(placeTasks([task('d', 1, 64, { executor: 'docker' })], [agent('plain', 8, 8192)]), []);
  });

  it('treats an agent without disk as not accounting disk', () => {
    assert.equal(freeResources({ cpus: 1, mem: 1 }, { cpus: 0, mem: 0, disk: 10 }).disk, Number.POSITIVE_INFINITY);
    assert.deepEqual(sumResources([{ cpus: 1, mem: 2 }, { cpus: 0.5, mem: 3, disk: 7 }]), { cpus: 1.5, mem: 5, disk: 7 });
  });
});
