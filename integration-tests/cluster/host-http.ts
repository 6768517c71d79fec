// HTTP from inside a namespace host: requests go through that host's client relay (client-relay.ts)
// over a Unix socket. Follows the masters' 307 redirects to the leader (`Location: //host:port/path`).
import { request as httpRequest } from 'node:http';

export interface HostResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface HostRequestOptions {
  method?: string;
  /** Sent as JSON. */
  body?: unknown;
  timeoutMs?: number;
}

/** A non-2xx answer (or a relay failure, status 502). */
export class HostHttpError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly body: string,
    /** Set when the relay could not reach the target at all (rather than the target answering an error). */
    readonly relayError?: string,
  ) {
    super(`${url}: ${relayError ? `unreachable (${relayError})` : `HTTP ${status} ${body.slice(0, 300)}`}`);
    this.name = 'HostHttpError';
  }
}

const MAX_REDIRECTS = 3;

export class HostHttp {
  constructor(
    /** The relay's Unix socket. */
    readonly socketPath: string,
  ) {}

  /** One request, as is (no redirects followed). */
  raw(url: string, options: HostRequestOptions = {}): Promise<HostResponse & { relayError?: string }> {
    const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          socketPath: this.socketPath,
          path: url,
          method: options.method ?? (payload === undefined ? 'GET' : 'POST'),
          headers: {
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (body += chunk));
          res.on('end', () => {
            const relayError = res.headers['x-relay-error'];
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body,
              ...(typeof relayError === 'string' ? { relayError } : {}),
            });
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** A request whose 2xx JSON answer is returned; redirects followed; anything else throws HostHttpError. */
  async json<T>(url: string, options: HostRequestOptions = {}): Promise<T> {
    let current = url;
    for (let hop = 0; ; hop++) {
      const res = await this.raw(current, options);
      const location = res.headers.location;
      if ((res.status === 307 || res.status === 308) && typeof location === 'string' && hop < MAX_REDIRECTS) {
        current = new URL(location.startsWith('//') ? `http:${location}` : location, current).toString();
        continue;
      }
      if (res.status < 200 || res.status > 299) throw new HostHttpError(current, res.status, res.body, res.relayError);
      return (res.body === '' ? undefined : JSON.parse(res.body)) as T;
    }
  }

  /** Like json(), but undefined instead of throwing (for polling). */
  async tryJson<T>(url: string, options: HostRequestOptions = {}): Promise<T | undefined> {
    try {
      return await this.json<T>(url, options);
    } catch {
      return undefined;
    }
  }
}
