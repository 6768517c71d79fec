// Where the fleet learns the leading master's address. One source per fleet process: real agents each
// have their own ZooKeeper session, but sharing one keeps ZooKeeper's load (10,000 sessions and
// watches) out of what the benchmark measures, which is the master.

export interface LeaderSource {
  /** 'ip:port' of the leading master, if one is known. */
  readonly address: string | undefined;
  /** Called with the new address (undefined: no leader) on every change; returns an unsubscribe. */
  onChange(listener: (address: string | undefined) => void): () => void;
  close(): Promise<void>;
}

/** A leader told by whoever runs the fleet: a standalone master, restarted in place. */
export class ManualLeader implements LeaderSource {
  private current: string | undefined;
  private readonly listeners = new Set<(address: string | undefined) => void>();

  constructor(address: string | undefined) {
    this.current = address;
  }

  get address(): string | undefined {
    return this.current;
  }

  /** Announces a (new) leader even when the address is the same: a restarted master is a new leader. */
  set(address: string | undefined): void {
    this.current = address;
    for (const listener of this.listeners) listener(address);
  }

  onChange(listener: (address: string | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
