// Test support: a tiny HTTP server on 127.0.0.1 (ephemeral port) standing in for a master or an
// agent, and a runner for the built `tessera` command. Only for the CLI's own command tests.
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { closeHttpServer, listenHttp } from '../../common/index.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export interface Reply {
  status: number;
  body?: unknown;
}

export type Handler = (request: RecordedRequest) => Reply | undefined;

/** Answers each request with the first handler that returns a reply; 404 otherwise. */
export class FakeServer {
  readonly requests: RecordedRequest[] = [];
  private readonly handlers: Handler[] = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<FakeServer> {
    const holder: { fake?: FakeServer } = {};
    const server = createServer((req, res) => {
      void holder.fake?.handle(req, res);
    });
    holder.fake = new FakeServer(server, await listenHttp(server, 0, '127.0.0.1'));
    return holder.fake;
  }

  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  on(method: string, path: string | RegExp, reply: (request: RecordedRequest) => Reply): this {
    this.handlers.push((request) => {
      if (request.method !== method) return undefined;
      const matches = typeof path === 'string' ? request.path === path : path.test(request.path);
      return matches ? reply(request) : undefined;
    });
    return this;
  }

  stop(): Promise<void> {
    return closeHttpServer(this.server);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
    this.requests.push(request);
    let reply: Reply | undefined;
    for (const handler of this.handlers) {
      reply = handler(request);
      if (reply) break;
    }
    reply ??= { status: 404, body: { error: { code: 'NOT_FOUND', message: `no route for ${request.method} ${request.path}` } } };
    res.writeHead(reply.status, { 'content-type': 'application/json' });
    res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const MAIN = fileURLToPath(new URL('../main.js', import.meta.url));

/**
 * Runs `node dist/cli/main.js ...args` (asynchronously: the fake servers live in this process).
 * `onStdout`/`onStderr` see the output so far and may act on the child (send SIGINT once the id is printed).
 */
export function runCli(
  args: readonly string[],
  options: {
    timeoutMs?: number;
    onStdout?: (stdout: string, child: { kill(signal: NodeJS.Signals): void }) => void;
    onStderr?: (stderr: string, child: { kill(signal: NodeJS.Signals): void }) => void;
  } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(stdout, child);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      options.onStderr?.(stderr, child);
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tessera ${args.join(' ')} did not end within ${options.timeoutMs ?? 10_000} ms; stderr: ${stderr}`));
    }, options.timeoutMs ?? 10_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
