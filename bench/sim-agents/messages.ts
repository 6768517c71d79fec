// The IPC messages between the bench and a fleet worker process (child_process.fork).
import type { FleetSnapshot } from './fleet.js';

export interface FleetWorkerConfig {
  count: number;
  firstIndex: number;
  /** zk://… of the masters: the worker follows the leader through one LeaderDetector. */
  zkUrl?: string;
  /** Otherwise a leader the bench sets by message (standalone master). */
  leaderAddress?: string;
  maxSockets: number;
  startSpreadMs: number;
  sessionTimeoutMs: number;
}

export type ToWorker =
  | { kind: 'start'; config: FleetWorkerConfig }
  | { kind: 'set-leader'; address: string | undefined }
  | { kind: 'snapshot'; requestId: number; sinceMs: number }
  | { kind: 'stop' };

export type FromWorker =
  | { kind: 'started' }
  | { kind: 'snapshot'; requestId: number; snapshot: FleetSnapshot }
  | { kind: 'error'; message: string }
  | { kind: 'stopped' };
