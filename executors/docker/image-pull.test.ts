// Image resolution logic (pull when missing or forced, progress reporting) against a fake engine port:
// no registry is reachable on these machines, so a real pull cannot succeed here.
import assert from 'node:assert/strict';
import { silentLogger } from '../../common/index.js';
import { ExecutorError } from '../errors.js';
import type { ContainerSpec, DockerClient, PullProgress } from './docker-client.js';
import { DockerExecutor } from './docker-executor.js';
import { makeSandbox, removeSandbox, taskConfig } from './test-support.js';

class FakeEngine implements DockerClient {
  images = new Set<string>();
  pullResult: 'ok' | 'fail' = 'ok';
  pulls: string[] = [];
  created: ContainerSpec[] = [];
  inspects = 0;
  async ping(): Promise<void> {}
  async inspectImage(image: string) {
    this.inspects++;
    return this.images.has(image) ? { id: 'sha256:x', cmd: ['/bin/sh'] } : undefined;
  }
  async pullImage(image: string, onProgress: (p: PullProgress) => void): Promise<void> {
    this.pulls.push(image);
    onProgress({ status: 'layer1: Downloading', current: 5, total: 10 });
    if (this.pullResult === 'fail') throw new Error('manifest unknown');
    onProgress({ status: 'layer1: Pull complete' });
    this.images.add(image);
  }
  async createContainer(spec: ContainerSpec): Promise<string> {
    // Like the engine: 404 "No such image" for an image that is not here.
    if (!this.images.has(spec.image)) throw Object.assign(new Error(`No such image: ${spec.image}`), { statusCode: 404 });
    this.created.push(spec);
    return `id-${this.created.length}`;
  }
  async startContainer(): Promise<void> {}
  async waitContainer(): Promise<'exited'> {
    return 'exited';
  }
  async inspectContainer() {
    return undefined;
  }
  async killContainer(): Promise<void> {}
  async removeContainer(): Promise<void> {}
  async listContainers() {
    return [];
  }
  async followLogs() {
    return { done: Promise.resolve(), close: () => undefined };
  }
  async statsOnce(): Promise<never> {
    throw new Error('not used');
  }
  async exec(): Promise<never> {
    throw new Error('not used');
  }
}

describe('DockerExecutor image resolution (fake engine)', () => {
  let sandboxDir: string;
  beforeEach(async () => {
    sandboxDir = await makeSandbox();
  });
  afterEach(async () => {
    await removeSandbox(sandboxDir);
  });

  it('pulls a missing image, reporting progress, then creates the container', async () => {
    const engine = new FakeEngine();
    const seen: Array<[string, PullProgress]> = [];
    const executor = await DockerExecutor.create({
      logger: silentLogger,
      client: engine,
      onPullProgress: (image, p) => seen.push([image, p]),
    });
    const cfg = taskConfig({ agentId: 'a', sandboxDir, image: 'repo/app:2' });
    const handle = await executor.startTask(cfg);
    assert.equal(handle.dockerId, 'id-1');
    assert.deepEqual(engine.pulls, ['repo/app:2']);
    assert.deepEqual(seen, [
      ['repo/app:2', { status: 'layer1: Downloading', current: 5, total: 10 }],
      ['repo/app:2', { status: 'layer1: Pull complete' }],
    ]);
    // Present now: no second pull.
    await executor.startTask(taskConfig({ agentId: 'a', sandboxDir, image: 'repo/app:2' }));
    assert.equal(engine.pulls.length, 1);
  });

  it('IMAGE_NOT_FOUND when a missing image cannot be pulled; a forced pull falls back to the local copy', async () => {
    const engine = new FakeEngine();
    engine.pullResult = 'fail';
    const executor = await DockerExecutor.create({ logger: silentLogger, client: engine });
    await assert.rejects(
      executor.startTask(taskConfig({ agentId: 'a', sandboxDir, image: 'repo/missing:1' })),
      (err: unknown) => err instanceof ExecutorError && err.code === 'IMAGE_NOT_FOUND' && /repo\/missing:1/.test(err.message),
    );
    assert.equal(engine.created.length, 0);

    engine.images.add('repo/local:1');
    const cfg = taskConfig({ agentId: 'a', sandboxDir, image: 'repo/local:1' });
    cfg.task.container = { type: 'DOCKER', docker: { image: 'repo/local:1', force_pull_image: true } };
    await executor.startTask(cfg);
    assert.deepEqual(engine.pulls, ['repo/missing:1', 'repo/local:1']);
    assert.equal(engine.created.length, 1);
  });

  it('inspects an image once; if it has gone by a later launch, the 404 from create brings the usual look-up', async () => {
    const engine = new FakeEngine();
    engine.images.add('repo/app:3');
    const executor = await DockerExecutor.create({ logger: silentLogger, client: engine });
    const cfg = (): ReturnType<typeof taskConfig> => taskConfig({ agentId: 'a', sandboxDir, image: 'repo/app:3' });
    await executor.startTask(cfg());
    await executor.startTask(cfg());
    assert.equal(engine.inspects, 1, 'known locally after the first launch');
    assert.equal(engine.created.length, 2);

    // Removed from the engine and not pullable: IMAGE_NOT_FOUND, as on a first launch.
    engine.images.delete('repo/app:3');
    engine.pullResult = 'fail';
    await assert.rejects(executor.startTask(cfg()), (err: unknown) => err instanceof ExecutorError && err.code === 'IMAGE_NOT_FOUND');
    assert.equal(engine.inspects, 2);
    // Pullable again: pulled on the next launch, then created.
    engine.pullResult = 'ok';
    const handle = await executor.startTask(cfg());
    assert.equal(handle.dockerId, 'id-3');
    assert.deepEqual(engine.pulls, ['repo/app:3', 'repo/app:3']);
  });
});
