// One framework's SUBSCRIBE response: a chunked RecordIO stream of events over a Node ServerResponse.
// The master's hot path calls send() and never waits: a subscriber that does not read (or vanished
// without a FIN) only fills our buffer up to a limit, and then its stream is cut.
import {
  silentLogger,
  type Logger,
  HEARTBEAT_EVENT,
  type MesosEvent,
  encodeRecord,
} from '../../common/index.js';
import type { ServerResponse } from 'node:http';

/** Where the master sends a framework's events. */
export interface EventSink {
  send(event: MesosEvent): void;
  close(): void;
  /** Called once when the stream ends: the client went away, it fell too far behind, or close(). */
  onClose(listener: () => void): void;
  readonly closed: boolean;
}

export const DEFAULT_HEARTBEAT_INTERVAL_MS = 15_000;
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface EventStreamOptions {
  heartbeatIntervalMs?: number;
  /** Bytes queued for the socket beyond which the subscriber counts as gone. */
  maxBufferedBytes?: number;
  logger?: Logger;
}

/**
 * Events sent before open() (SUBSCRIBED, sent by the master inside subscribe()) wait in memory,
 * because the status line and Mesos-Stream-Id header can only go out once subscribe() succeeded.
 */
export class EventStream implements EventSink {
  private pending: Buffer[] | undefined = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly listeners: Array<() => void> = [];
  private isClosed = false;
  private id: string | undefined;
  private readonly heartbeatIntervalMs: number;
  private readonly maxBufferedBytes: number;
  private readonly logger: Logger;

  constructor(
    private readonly res: ServerResponse,
    options: EventStreamOptions = {},
  ) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.logger = options.logger ?? silentLogger;
    res.on('close', () => this.finish());
    // A write racing the peer's reset must not become an unhandled 'error'.
    res.on('error', (err) => {
      this.logger.debug({ err, streamId: this.id }, 'scheduler event stream failed');
      this.finish();
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get streamId(): string | undefined {
    return this.id;
  }

  /** Bytes written but not yet taken by the kernel. */
  get bufferedBytes(): number {
    return this.res.writableLength;
  }

  /** Sends the headers (200, Mesos-Stream-Id) and whatever was sent before, then starts heartbeats. */
  open(streamId: string): void {
    if (this.pending === undefined) throw new Error('event stream already opened');
    const queued = this.pending;
    this.pending = undefined;
    this.id = streamId;
    if (this.isClosed) {
      if (!this.res.headersSent && !this.res.writableEnded) this.res.end();
      return;
    }
    this.res.writeHead(200, {
      'Content-Type': 'application/json',
      'Mesos-Stream-Id': streamId,
      'Cache-Control': 'no-cache',
    });
    if (queued.length === 0) this.res.flushHeaders();
    for (const record of queued) this.write(record);
    if (this.isClosed) return;
    this.heartbeat = setInterval(() => this.send(HEARTBEAT_EVENT), this.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  send(event: MesosEvent): void {
    if (this.isClosed) return;
    const record = encodeRecord(event);
    if (this.pending !== undefined) this.pending.push(record);
    else this.write(record);
  }

  close(): void {
    if (this.isClosed) return;
    // end() flushes what is buffered (e.g. a final ERROR event) and then closes.
    if (this.pending === undefined && !this.res.writableEnded) this.res.end();
    this.finish();
  }

  /** subscribe() failed: the route answers with an error instead; nothing of the stream was written. */
  discard(): void {
    this.pending = undefined;
    this.finish();
  }

  onClose(listener: () => void): void {
    if (this.isClosed) queueMicrotask(listener);
    else this.listeners.push(listener);
  }

  private write(record: Buffer): void {
    this.res.write(record);
    const buffered = this.res.writableLength;
    if (buffered > this.maxBufferedBytes) {
      this.logger.warn({ streamId: this.id, buffered, limit: this.maxBufferedBytes }, 'scheduler is not reading its event stream; closing it');
      this.finish();
      this.res.destroy();
    }
  }

  private finish(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const listener of this.listeners.splice(0)) {
      try {
        listener();
      } catch (err) {
        this.logger.error({ err, streamId: this.id }, 'event stream close listener failed');
      }
    }
  }
}
