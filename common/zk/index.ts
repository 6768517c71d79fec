// The public face of common/zk: the ZooKeeper port and its node-zookeeper-client implementation,
// zk:// URLs, MasterInfo (the Mesos json.info_ format) and leader detection.
export type { ZkAclKind, ZkCreateMode, ZkOp, ZkSessionState, ZkNodeData, ZkSession } from './zk-session.js';
export * from './errors.js';
export * from './zk-url.js';
export * from './node-zk-session.js';
export * from './master-info.js';
export * from './leader-detector.js';
export * from './election/index.js';
