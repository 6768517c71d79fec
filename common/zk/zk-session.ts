// The narrow port Tessera uses to talk to ZooKeeper. The implementation (node-zookeeper-client) sits
// behind it, so election, detection and the registry can be tested against a real ZooKeeper while
// owning only the calls they make.

/** Who may do what on a znode Tessera creates (only meaningful when the URL carries credentials). */
export type ZkAclKind =
  /** Everyone reads, the credentials' owner does everything: election znodes, so any client finds the leader. */
  | 'world-read'
  /** Only the credentials' owner: the registry. */
  | 'private';

export type ZkCreateMode = 'persistent' | 'ephemeral' | 'ephemeral-sequential';

/** One operation of an atomic multi-op transaction. `version` -1 (default) means any version. */
export type ZkOp =
  | { op: 'create'; path: string; data: Buffer; acl: ZkAclKind }
  | { op: 'set'; path: string; data: Buffer; version?: number }
  | { op: 'remove'; path: string; version?: number }
  | { op: 'check'; path: string; version?: number };

/**
 * connected: the session is live; disconnected: the link to the ensemble broke, the session may still
 * be alive (until its timeout); expired: the session is gone for good (its ephemeral znodes deleted);
 * a new session must be made.
 */
export type ZkSessionState = 'connected' | 'disconnected' | 'expired' | 'closed';

export interface ZkNodeData {
  data: Buffer;
  version: number;
}

export interface ZkSession {
  /** The negotiated session timeout. */
  readonly sessionTimeoutMs: number;
  readonly state: ZkSessionState;
  /** Called on every state change; returns an unsubscribe function. */
  onStateChange(listener: (state: ZkSessionState) => void): () => void;

  /** Creates the node; returns the path actually created (with the sequence suffix). */
  create(path: string, data: Buffer, mode: ZkCreateMode, acl: ZkAclKind): Promise<string>;
  /** Creates the path and its missing parents as persistent nodes; existing ones are fine. */
  mkdirp(path: string, acl: ZkAclKind): Promise<void>;
  /** Children names (not paths). `watch` fires once on the next change of the child list. */
  getChildren(path: string, watch?: () => void): Promise<string[]>;
  /** undefined when the node does not exist. `watch` fires once on change or deletion. */
  getData(path: string, watch?: () => void): Promise<ZkNodeData | undefined>;
  /** Whether the node exists; `watch` fires once when it is created, changed or deleted. */
  exists(path: string, watch?: () => void): Promise<boolean>;
  remove(path: string, version?: number): Promise<void>;
  /** All or nothing. */
  transaction(ops: readonly ZkOp[]): Promise<void>;
  /** Closes the session (its ephemeral nodes go at once). */
  close(): Promise<void>;
}
