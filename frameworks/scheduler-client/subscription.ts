// The SUBSCRIBE request: one long-lived streaming POST on its own socket, its RecordIO body decoded
// into events as chunks arrive. What to do with a redirect, a refusal or the end of the stream is the
// client's business; this file only reports them.
import http from 'node:http';
import { errorMessage, RecordIoDecoder, type MesosEvent } from '../../common/index.js';
import { answerMessage, header } from './http-post.js';

export interface StreamHandlers {
  /** `stream` is passed because the first events can arrive before openSubscription's promise settles. */
  onEvent(event: MesosEvent, stream: EventStream): void;
  /** Exactly once, when the stream is over for any reason (never after a non-200 answer). */
  onEnd(reason: string): void;
}

export type SubscribeOutcome =
  | { kind: 'stream'; stream: EventStream }
  | { kind: 'redirect'; location: string }
  | { kind: 'refused'; status: number; message: string; retryAfterSeconds?: number };

export class EventStream {
  private over = false;

  constructor(
    readonly streamId: string,
    private readonly req: http.ClientRequest,
    private readonly handlers: StreamHandlers,
  ) {}

  get ended(): boolean {
    return this.over;
  }

  /** Drops the connection (the master then sees the framework disconnect). */
  close(reason: string): void {
    this.end(reason);
    this.req.destroy();
  }

  /** @internal */
  end(reason: string): void {
    if (this.over) return;
    this.over = true;
    this.handlers.onEnd(reason);
  }
}

export interface OpenOptions {
  url: string;
  body: unknown;
  headers: Record<string, string>;
  /** How long to wait for the status line and headers. */
  connectTimeoutMs: number;
  /** Aborting destroys the request, whether it is still waiting for an answer or streaming. */
  signal: AbortSignal;
  handlers: StreamHandlers;
}

export function openSubscription(options: OpenOptions): Promise<SubscribeOutcome> {
  const payload = JSON.stringify(options.body);
  return new Promise((resolve, reject) => {
    let settled = false;
    let stream: EventStream | undefined;
    const req = http.request(options.url, {
      method: 'POST',
      // Its own socket: a stream must never hold a pooled socket that calls would queue behind.
      agent: false,
      signal: options.signal,
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'Content-Length': String(Buffer.byteLength(payload)),
        ...options.headers,
      },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer to SUBSCRIBE within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
    req.on('socket', (socket) => socket.setKeepAlive(true, 5_000));
    req.on('error', (err) => {
      clearTimeout(timer);
      if (!settled) {
        settled = true;
        reject(err);
      } else {
        stream?.end(`the stream failed: ${err.message}`);
      }
    });
    req.on('response', (res) => {
      clearTimeout(timer);
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (err) => {
          if (!settled) {
            settled = true;
            reject(err);
          }
        });
        res.on('end', () => {
          if (settled) return;
          settled = true;
          const answer = { status, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') };
          const location = header(answer, 'location');
          if ((status === 307 || status === 302 || status === 301 || status === 308) && location) {
            resolve({ kind: 'redirect', location });
            return;
          }
          const retryAfter = Number(header(answer, 'retry-after'));
          resolve({
            kind: 'refused',
            status,
            message: answerMessage(answer),
            ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
          });
        });
        return;
      }
      const streamId = header({ headers: res.headers }, 'mesos-stream-id') ?? '';
      const opened = new EventStream(streamId, req, options.handlers);
      stream = opened;
      const decoder = new RecordIoDecoder();
      res.on('data', (chunk: Buffer) => {
        if (opened.ended) return;
        let records: string[];
        try {
          records = decoder.push(chunk);
        } catch (err) {
          opened.close(`the stream is not RecordIO: ${errorMessage(err)}`);
          return;
        }
        for (const record of records) {
          if (opened.ended) return;
          let event: MesosEvent;
          try {
            event = JSON.parse(record) as MesosEvent;
          } catch (err) {
            opened.close(`an event is not JSON: ${errorMessage(err)}`);
            return;
          }
          options.handlers.onEvent(event, opened);
        }
      });
      res.on('end', () => opened.end('the master ended the stream'));
      res.on('close', () => opened.end('the connection to the master closed'));
      res.on('error', (err) => opened.end(`the stream failed: ${err.message}`));
      settled = true;
      resolve({ kind: 'stream', stream: opened });
    });
    req.end(payload);
  });
}
