// Leader election through ZooKeeper, for masters and for frameworks' instances alike.
export { LeaderContender } from './leader-contender.js';
export type { LeaderContenderOptions } from './leader-contender.js';
export type { ElectionEvent, ContenderState } from './election-event.js';
