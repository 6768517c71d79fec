// What a LeaderContender tells the master about its leadership, as a tagged union.
import type { ZkSession } from '../zk-session.js';

export type ElectionEvent =
  /**
   * This contender's znode is the lowest: it leads. `session` is the session that holds the znode
   * and `fencePath` the znode itself; registry writes `check` it so a deposed leader's write fails.
   */
  | { kind: 'elected'; session: ZkSession; fencePath: string }
  /** Leading, but the link to ZooKeeper broke: stop acting at once, keep state (it may come back). */
  | { kind: 'suspended' }
  /** The same session reconnected and our znode still exists: leading again, same session and fencePath. */
  | { kind: 'resumed' }
  /**
   * The term is over (session expired or closed, our znode gone): never act on it again. The
   * contender keeps contending with a new session; a later 'elected' starts a new term.
   */
  | { kind: 'deposed'; reason: string };

/**
 * connecting: no usable session (starting, reconnecting, or a non-leader whose link broke);
 * contending: our znode exists and a lower one leads; leading: we lead and the session is connected;
 * suspended: we led and the link broke (not acting); closed: close() was called.
 */
export type ContenderState = 'connecting' | 'contending' | 'leading' | 'suspended' | 'closed';
