// Master metrics: one flat snapshot with Mesos names (GET /metrics/snapshot) and the same values in
// Prometheus text (GET /metrics), from a Registry owned by this Master (never the global one).
import { Gauge, Registry } from 'prom-client';

export const SNAPSHOT_KEYS = [
  'master/elected',
  'master/uptime_secs',
  'master/slaves_active',
  'master/slaves_recovering',
  'master/slaves_unreachable',
  'master/tasks_staging',
  'master/tasks_starting',
  'master/tasks_running',
  'master/tasks_killing',
  'master/tasks_finished',
  'master/tasks_failed',
  'master/tasks_killed',
  'master/tasks_lost',
  'master/tasks_error',
  'master/cpus_total',
  'master/cpus_used',
  'master/mem_total',
  'master/mem_used',
  'master/invalid_status_updates',
  'master/frameworks_active',
  'master/frameworks_inactive',
  'master/outstanding_offers',
  'master/tasks_dropped',
] as const;

export type SnapshotKey = (typeof SNAPSHOT_KEYS)[number];
export type MetricsSnapshot = Record<SnapshotKey, number>;

/** `master/tasks_running` → `tessera_master_tasks_running` (Prometheus names cannot hold '/'). */
export function prometheusName(key: SnapshotKey): string {
  return `tessera_${key.replace(/\//g, '_')}`;
}

export class MasterMetrics {
  readonly registry = new Registry();

  constructor(snapshot: () => MetricsSnapshot) {
    for (const key of SNAPSHOT_KEYS) {
      new Gauge({
        name: prometheusName(key),
        help: `Mesos metric ${key}`,
        registers: [this.registry],
        collect() {
          this.set(snapshot()[key]);
        },
      });
    }
  }

  async prometheus(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
