// The public face of frameworks/runtime: what a framework process needs to be highly available —
// leader election among its instances and a fenced state store (ZooKeeper, or a file when alone).
export { FrameworkInstance } from './framework-instance.js';
export type { FrameworkInstanceOptions, InstanceInfo } from './framework-instance.js';
export type { StateStore } from './state-store.js';
export { FileStateStore } from './file-state-store.js';
export { ZkStateStore } from './zk-state-store.js';
export type { Fence } from './zk-state-store.js';
export { RuntimeError } from './errors.js';
export type { RuntimeErrorCode } from './errors.js';
