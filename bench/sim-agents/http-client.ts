// JSON POSTs to the master over a bounded pool of keep-alive sockets (node:http, not fetch), so one
// process can hold N agents: they share at most `maxSockets` connections. N real agents would each
// hold one; the master's per-request work is the same, only 10,000 accepts and idle sockets are
// spared. A 307 to the leader is followed once, as the real agent's fetch would.
import { Agent, request } from 'node:http';
import { SimAgentError } from './errors.js';

export interface JsonClientOptions {
  /** Most sockets open at once (per master address). */
  maxSockets: number;
  timeoutMs: number;
}

export class JsonClient {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(options: JsonClientOptions) {
    this.agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets });
    this.timeoutMs = options.timeoutMs;
  }

  /** POSTs `body` to http://address/path; resolves with the parsed 2xx body, follows one 307. */
  async post<T>(address: string, path: string, body: unknown, redirects = 1): Promise<T> {
    const payload = JSON.stringify(body);
    const answer = await this.send(address, path, payload);
    if (answer.status === 307 && redirects > 0 && answer.location !== undefined) {
      // Location is `//host:port/path` (or absolute): resolve it against the master we asked.
      const target = new URL(answer.location, `http://${address}${path}`);
      return this.post<T>(target.host, target.pathname, body, redirects - 1);
    }
    if (answer.status < 200 || answer.status >= 300) {
      throw new SimAgentError('HTTP_STATUS', `POST ${address}${path}: ${answer.status} ${answer.text.slice(0, 200)}`, {
        status: answer.status,
        retryable: answer.status >= 500,
      });
    }
    try {
      return (answer.text === '' ? undefined : JSON.parse(answer.text)) as T;
    } catch (err) {
      throw new SimAgentError('UNREACHABLE', `POST ${address}${path}: answer is not JSON`, { cause: err, retryable: true });
    }
  }

  destroy(): void {
    this.agent.destroy();
  }

  private send(address: string, path: string, payload: string): Promise<{ status: number; text: string; location?: string }> {
    const colon = address.lastIndexOf(':');
    const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    const port = Number(address.slice(colon + 1));
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host,
          port,
          path,
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': Buffer.byteLength(payload) },
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const location = res.headers.location;
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), ...(location ? { location } : {}) });
          });
          res.on('error', (err) => reject(new SimAgentError('UNREACHABLE', `POST ${address}${path}: ${err.message}`, { cause: err, retryable: true })));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => reject(new SimAgentError('UNREACHABLE', `POST ${address}${path}: ${err.message}`, { cause: err, retryable: true })));
      req.end(payload);
    });
  }
}
