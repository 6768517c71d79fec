// A raw node:http scheduler client for tests: subscribes, decodes the chunked RecordIO stream and
// hands out events with deadlines; posts calls. Deliberately not fetch: tests need to see (and stall)
// the socket.
import { request, type IncomingHttpHeaders, type IncomingMessage, type ClientRequest } from 'node:http';
import { RecordIoDecoder } from '../../common/index.js';

export interface RawSubscription {
  status: number;
  headers: IncomingHttpHeaders;
  streamId: string | undefined;
  /** The response body when status is not 200 (an error body). */
  errorBody: string | undefined;
  /** The next event, parsed; rejects after `timeoutMs` or when the stream ended first. */
  next(timeoutMs?: number): Promise<{ type: string } & Record<string, unknown>>;
  /** Skips events until one of `type` arrives. */
  nextOfType(type: string, timeoutMs?: number): Promise<{ type: string } & Record<string, unknown>>;
  /** Stops reading from the socket (the server's writes back up). */
  pause(): void;
  /** Resolves when the server ended or cut the stream. */
  readonly ended: Promise<void>;
  readonly isEnded: boolean;
  close(): void;
}

type Event = { type: string } & Record<string, unknown>;

export function subscribeRaw(
  port: number,
  body: unknown,
  options: { headers?: Record<string, string>; host?: string } = {},
): Promise<RawSubscription> {
  return new Promise((resolve, reject) => {
    const req: ClientRequest = request(
      {
        host: options.host ?? '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/v1/scheduler',
        agent: false,
        headers: { 'content-type': 'application/json', accept: 'application/json', ...options.headers },
      },
      (res) => {
        if (res.statusCode !== 200) {
          readAll(res).then(
            (text) => resolve(finished(res, text)),
            reject,
          );
          return;
        }
        resolve(streaming(req, res));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function finished(res: IncomingMessage, text: string): RawSubscription {
  const fail = (): Promise<Event> => Promise.reject(new Error(`no stream: ${res.statusCode} ${text}`));
  return {
    status: res.statusCode ?? 0,
    headers: res.headers,
    streamId: header(res, 'mesos-stream-id'),
    errorBody: text,
    next: fail,
    nextOfType: fail,
    pause: () => undefined,
    ended: Promise.resolve(),
    isEnded: true,
    close: () => undefined,
  };
}

function streaming(req: ClientRequest, res: IncomingMessage): RawSubscription {
  const decoder = new RecordIoDecoder();
  const queue: Event[] = [];
  const waiters: Array<{ resolve: (e: Event) => void; reject: (err: Error) => void }> = [];
  let isEnded = false;
  let endError: Error | undefined;
  let markEnded: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => {
    markEnded = resolve;
  });
  const end = (why: string): void => {
    if (isEnded) return;
    isEnded = true;
    endError = new Error(`stream ended: ${why}`);
    for (const w of waiters.splice(0)) w.reject(endError);
    markEnded();
  };
  res.on('data', (chunk: Buffer) => {
    for (const record of decoder.push(chunk)) {
      const event = JSON.parse(record) as Event;
      const waiter = waiters.shift();
      if (waiter) waiter.resolve(event);
      else queue.push(event);
    }
  });
  res.on('end', () => end('end'));
  res.on('close', () => end('close'));
  res.on('error', (err) => end(err.message));

  const next = (timeoutMs = 5000): Promise<Event> => {
    const queued = queue.shift();
    if (queued) return Promise.resolve(queued);
    if (endError) return Promise.reject(endError);
    return new Promise<Event>((resolve, reject) => {
      const waiter = {
        resolve: (e: Event) => {
          clearTimeout(timer);
          resolve(e);
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`no event within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(waiter);
    });
  };
  const nextOfType = async (type: string, timeoutMs = 5000): Promise<Event> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = await next(Math.max(1, deadline - Date.now()));
      if (event.type === type) return event;
    }
  };
  return {
    status: 200,
    headers: res.headers,
    streamId: header(res, 'mesos-stream-id'),
    errorBody: undefined,
    next,
    nextOfType,
    pause: () => res.pause(),
    ended,
    get isEnded() {
      return isEnded;
    },
    close: () => {
      req.destroy();
      end('closed by client');
    },
  };
}

/** POSTs one call; resolves with the status, body text and headers (never rejects on 4xx). */
export function postCall(
  port: number,
  body: unknown,
  options: { headers?: Record<string, string>; host?: string; rawBody?: string } = {},
): Promise<{ status: number; body: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: options.host ?? '127.0.0.1',
        port,
        method: 'POST',
        path: '/api/v1/scheduler',
        agent: false,
        headers: { 'content-type': 'application/json', ...options.headers },
      },
      (res) => {
        readAll(res).then((text) => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }), reject);
      },
    );
    req.on('error', reject);
    req.end(options.rawBody ?? JSON.stringify(body));
  });
}

function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function header(res: IncomingMessage, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
