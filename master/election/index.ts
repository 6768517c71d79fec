// The public face of master/election/: the master's side of leader election through ZooKeeper.
export { MasterContender } from './master-contender.js';
export type { MasterContenderOptions } from './master-contender.js';
export type { ElectionEvent, ContenderState } from './election-event.js';
export { backoffDelay } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
