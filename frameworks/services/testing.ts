// Test helpers for the pure core: a manual clock, counting ids, offers and updates as the master sends them.
import type { Clock, IdSource, MesosOffer, MesosTaskStatus, TaskState, TimerHandle } from '../../common/index.js';
import { toMesosResources } from '../../common/index.js';

export class ManualClock implements Clock {
  constructor(public time = Date.parse('2025-01-01T00:00:00Z')) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
  setTimeout(): TimerHandle {
    return {};
  }
  clearTimeout(): void {}
}

export function countingIds(): IdSource {
  let n = 0;
  return { uuid: () => `id${++n}` };
}

let offerSeq = 0;
export function offer(agent: string, options: { cpus?: number; mem?: number; ports?: [number, number]; hostname?: string; attributes?: Record<string, string> } = {}): MesosOffer {
  const o: MesosOffer & { attributes?: unknown } = {
    id: { value: `offer-${++offerSeq}` },
    framework_id: { value: 'fw' },
    agent_id: { value: agent },
    hostname: options.hostname ?? `${agent}.host`,
    url: { scheme: 'http', address: { hostname: options.hostname ?? `${agent}.host`, ip: '127.0.0.1', port: 5051 }, path: '/' },
    resources: toMesosResources({ cpus: options.cpus ?? 4, mem: options.mem ?? 4096, ports: [{ begin: options.ports?.[0] ?? 31000, end: options.ports?.[1] ?? 31099 }] }),
  };
  if (options.attributes) o.attributes = Object.entries(options.attributes).map(([name, value]) => ({ name, type: 'TEXT', text: { value } }));
  return o;
}

export function status(taskId: string, state: TaskState, agent = 'a1'): MesosTaskStatus {
  return { task_id: { value: taskId }, state, agent_id: { value: agent }, timestamp: Date.now() / 1000 };
}
