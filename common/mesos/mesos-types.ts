// The Mesos v1 scheduler API as JSON (scheduler.proto + mesos.proto, proto JSON mapping as Mesos
// writes it: snake_case names, enums as strings, `bytes` as base64, ids as {"value": …}).
// Only what Tessera supports is typed; unknown fields a framework sends are ignored, as Mesos does.
import type { MesosResource } from '../resources.js';
import type { StatusSource, TaskReason, TaskState } from '../task-state.js';

/** FrameworkID, AgentID, OfferID, TaskID, ExecutorID, ContainerID: all `{"value": "…"}`. */
export interface MesosId {
  value: string;
}

export interface MesosLabel {
  key: string;
  value?: string;
}

export interface MesosLabels {
  labels: MesosLabel[];
}

export interface MesosFrameworkInfo {
  user: string;
  name: string;
  id?: MesosId;
  failover_timeout?: number;
  checkpoint?: boolean;
  /** Deprecated single role; used when the MULTI_ROLE capability is absent. */
  role?: string;
  /** With the MULTI_ROLE capability. */
  roles?: string[];
  hostname?: string;
  principal?: string;
  webui_url?: string;
  capabilities?: Array<{ type: string }>;
  labels?: MesosLabels;
}

export interface MesosFilters {
  /** Default 5 s, as Mesos. */
  refuse_seconds?: number;
}

export interface MesosDurationInfo {
  /** int64: a number, or a decimal string as the proto3 JSON mapping writes 64-bit integers. */
  nanoseconds: number | string;
}

export interface MesosKillPolicy {
  grace_period?: MesosDurationInfo;
}

export interface MesosEnvironmentVariable {
  name: string;
  /** 'VALUE' (default) or 'SECRET' (not supported). */
  type?: string;
  value?: string;
}

export interface MesosCommandUri {
  value: string;
  executable?: boolean;
  extract?: boolean;
  cache?: boolean;
  output_file?: string;
}

export interface MesosCommandInfo {
  /** Default true: `value` runs through `/bin/sh -c`. */
  shell?: boolean;
  value?: string;
  arguments?: string[];
  environment?: { variables: MesosEnvironmentVariable[] };
  user?: string;
  /** Fetching URIs is not supported: a non-empty list is refused. */
  uris?: MesosCommandUri[];
}

export interface MesosPortMapping {
  host_port: number;
  container_port: number;
  protocol?: string;
}

export interface MesosDockerInfo {
  image: string;
  network?: 'HOST' | 'BRIDGE' | 'NONE' | 'USER';
  force_pull_image?: boolean;
  privileged?: boolean;
  port_mappings?: MesosPortMapping[];
  parameters?: Array<{ key: string; value: string }>;
}

export interface MesosContainerInfo {
  type: 'DOCKER' | 'MESOS';
  docker?: MesosDockerInfo;
  hostname?: string;
}

export interface MesosTaskInfo {
  name: string;
  task_id: MesosId;
  agent_id: MesosId;
  resources: MesosResource[];
  command?: MesosCommandInfo;
  container?: MesosContainerInfo;
  kill_policy?: MesosKillPolicy;
  labels?: MesosLabels;
  health_check?: MesosHealthCheck;
}

/** HealthCheck as in mesos.proto; the agent runs it and reports `healthy` in TASK_RUNNING updates. */
export interface MesosHealthCheck {
  type: 'COMMAND' | 'HTTP' | 'TCP';
  command?: MesosCommandInfo;
  http?: { port: number; path?: string; scheme?: string };
  tcp?: { port: number };
  /** Seconds (doubles); Mesos defaults: 15, 10, 20, 3, 10. */
  delay_seconds?: number;
  interval_seconds?: number;
  timeout_seconds?: number;
  consecutive_failures?: number;
  grace_period_seconds?: number;
}

export interface MesosLaunchOperation {
  type: 'LAUNCH';
  id?: MesosId;
  launch: { task_infos: MesosTaskInfo[] };
}

/** Offer.Operation; only LAUNCH is supported. */
export type MesosOperation = MesosLaunchOperation;

export interface MesosReconcileTask {
  task_id: MesosId;
  agent_id?: MesosId;
}

// ---- Calls ---------------------------------------------------------------------------------------

/** The call types Tessera answers. */
export const CALL_TYPES = [
  'SUBSCRIBE',
  'TEARDOWN',
  'ACCEPT',
  'DECLINE',
  'REVIVE',
  'KILL',
  'ACKNOWLEDGE',
  'RECONCILE',
  'SUPPRESS',
] as const;
export type CallType = (typeof CALL_TYPES)[number];

/** Mesos call types Tessera knows but does not implement (400 naming them, not "unknown"). */
export const UNSUPPORTED_CALL_TYPES: readonly string[] = [
  'ACCEPT_INVERSE_OFFERS',
  'DECLINE_INVERSE_OFFERS',
  'SHUTDOWN',
  'MESSAGE',
  'REQUEST',
  'ACKNOWLEDGE_OPERATION_STATUS',
  'RECONCILE_OPERATIONS',
  'UPDATE_FRAMEWORK',
];

export interface SubscribeCall {
  type: 'SUBSCRIBE';
  /** When set it must equal `subscribe.framework_info.id`. */
  framework_id?: MesosId;
  subscribe: { framework_info: MesosFrameworkInfo; suppressed_roles?: string[] };
}

export interface TeardownCall {
  type: 'TEARDOWN';
  framework_id: MesosId;
}

export interface AcceptCall {
  type: 'ACCEPT';
  framework_id: MesosId;
  accept: { offer_ids: MesosId[]; operations?: MesosOperation[]; filters?: MesosFilters };
}

export interface DeclineCall {
  type: 'DECLINE';
  framework_id: MesosId;
  decline: { offer_ids: MesosId[]; filters?: MesosFilters };
}

export interface ReviveCall {
  type: 'REVIVE';
  framework_id: MesosId;
  /** Absent or no roles: every role of the framework. */
  revive?: { roles?: string[] };
}

export interface SuppressCall {
  type: 'SUPPRESS';
  framework_id: MesosId;
  suppress?: { roles?: string[] };
}

export interface KillCall {
  type: 'KILL';
  framework_id: MesosId;
  kill: { task_id: MesosId; agent_id?: MesosId; kill_policy?: MesosKillPolicy };
}

export interface AcknowledgeCall {
  type: 'ACKNOWLEDGE';
  framework_id: MesosId;
  /** `uuid`: the status update's 16 raw bytes, base64 (see uuidFromMesos). */
  acknowledge: { agent_id: MesosId; task_id: MesosId; uuid: string };
}

export interface ReconcileCall {
  type: 'RECONCILE';
  framework_id: MesosId;
  /** No tasks (absent or empty): implicit reconciliation, every task of the framework. */
  reconcile: { tasks?: MesosReconcileTask[] };
}

export type Call =
  | SubscribeCall
  | TeardownCall
  | AcceptCall
  | DeclineCall
  | ReviveCall
  | SuppressCall
  | KillCall
  | AcknowledgeCall
  | ReconcileCall;

/** Every call but SUBSCRIBE: they carry the framework id and go with a Mesos-Stream-Id. */
export type FrameworkCall = Exclude<Call, SubscribeCall>;

// ---- Events --------------------------------------------------------------------------------------

export interface MesosAddress {
  hostname?: string;
  ip?: string;
  port: number;
}

export interface MesosUrl {
  scheme: string;
  address: MesosAddress;
  path?: string;
}

/** MasterInfo as Mesos writes it in SUBSCRIBED: `ip` is an IPv4 address as a uint32 (network order). */
export interface MesosMasterInfo {
  id: string;
  ip: number;
  port: number;
  pid?: string;
  hostname?: string;
  version?: string;
  address?: MesosAddress;
}

export interface MesosOffer {
  id: MesosId;
  framework_id: MesosId;
  agent_id: MesosId;
  hostname: string;
  url?: MesosUrl;
  resources: MesosResource[];
  allocation_info?: { role: string };
  attributes?: MesosAttribute[];
}

/** An agent attribute (`--attributes rack:r1;gpus:2`): TEXT, or SCALAR for plain numbers. */
export type MesosAttribute =
  | { name: string; type: 'TEXT'; text: { value: string } }
  | { name: string; type: 'SCALAR'; scalar: { value: number } };

export interface MesosTaskStatus {
  task_id: MesosId;
  state: TaskState;
  reason?: TaskReason;
  message?: string;
  source?: StatusSource;
  agent_id?: MesosId;
  /** Seconds since the epoch (double). */
  timestamp: number;
  /** 16 raw bytes, base64. Absent: the update is not retried and must not be acknowledged. */
  uuid?: string;
  container_status?: { container_id?: MesosId };
  /** Result of the task's health check, when it has one. */
  healthy?: boolean;
}

export type MesosEvent =
  | {
      type: 'SUBSCRIBED';
      subscribed: { framework_id: MesosId; heartbeat_interval_seconds?: number; master_info?: MesosMasterInfo };
    }
  | { type: 'OFFERS'; offers: { offers: MesosOffer[] } }
  | { type: 'RESCIND'; rescind: { offer_id: MesosId } }
  | { type: 'UPDATE'; update: { status: MesosTaskStatus } }
  | { type: 'FAILURE'; failure: { agent_id?: MesosId; executor_id?: MesosId; status?: number } }
  | { type: 'ERROR'; error: { message: string } }
  | { type: 'HEARTBEAT' };

export type MesosEventType = MesosEvent['type'];
