// An isolator that isolates nothing, for agent tests that inject a fake executor anyway.
import type { ResourceStatistics } from '../../common/index.js';
import type { ContainerLimits, Isolator, Limitation } from '../../isolators/index.js';

export class FakeIsolator implements Isolator {
  readonly name = 'posix' as const;
  readonly enforcing = false;
  readonly dockerCgroupParent = undefined;
  async prepare(_containerId: string, _limits: ContainerLimits): Promise<void> {}
  async isolate(_containerId: string, _pid: number): Promise<void> {}
  async update(_containerId: string, _limits: ContainerLimits): Promise<void> {}
  async oomKills(_containerId: string): Promise<number | undefined> {
    return 0;
  }

  async usage(_containerId: string): Promise<ResourceStatistics> {
    return { timestamp: Date.now() / 1000 };
  }
  watch(_containerId: string): Promise<Limitation> {
    return new Promise<Limitation>(() => {});
  }
  async processes(_containerId: string): Promise<number[]> {
    return [];
  }
  async exists(_containerId: string): Promise<boolean> {
    return false;
  }
  async kill(_containerId: string): Promise<void> {}
  async cleanup(_containerId: string): Promise<void> {}
}
