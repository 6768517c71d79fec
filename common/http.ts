// HTTP helpers shared by every daemon (koa) and client (fetch): one error mapping, one body reader.
import type { Server } from 'node:http';
import type { Context, Next } from 'koa';
import { RemoteError, TesseraError, ValidationError, errorMessage } from './errors.js';
import type { ErrorBody } from './types.js';
import type { Logger } from './logging.js';

/** The only place an error code becomes an HTTP status. */
export function statusForCode(code: string): number {
  switch (code) {
    case 'INVALID_REQUEST':
    case 'INVALID_JSON':
      return 400;
    case 'UNAUTHORIZED':
      return 401;
    case 'FORBIDDEN':
      return 403;
    case 'NOT_FOUND':
    case 'AGENT_UNKNOWN':
      return 404;
    case 'CONFLICT':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'UNSUPPORTED_MEDIA_TYPE':
      return 415;
    case 'NOT_LEADER':
    case 'UNAVAILABLE':
      return 503;
    default:
      return 500;
  }
}

/** Koa middleware: turns thrown errors into `{"error": {code, message, field?}}` with the mapped status. */
export function errorMiddleware(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = errorBody('NOT_FOUND', `no route for ${ctx.method} ${ctx.path}`);
      }
    } catch (err) {
      if (err instanceof TesseraError) {
        ctx.status = statusForCode(err.code);
        ctx.body = errorBody(err.code, err.message, err instanceof ValidationError ? err.field : undefined);
        if (ctx.status >= 500) logger.error({ err, path: ctx.path }, 'request failed');
      } else {
        logger.error({ err, path: ctx.path }, 'request failed');
        ctx.status = 500;
        ctx.body = errorBody('INTERNAL', errorMessage(err));
      }
    }
  };
}

export function errorBody(code: string, message: string, field?: string): ErrorBody {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

const DEFAULT_BODY_LIMIT = 4 * 1024 * 1024;

/** Reads a JSON request body (bounded). Bad JSON is a 400, not a crash. */
export async function readJsonBody(ctx: Context, limit = DEFAULT_BODY_LIMIT): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new TesseraError('PAYLOAD_TOO_LARGE', `body larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') throw new ValidationError(undefined, 'request body is empty; expected JSON');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new TesseraError('INVALID_JSON', `request body is not valid JSON: ${errorMessage(err)}`);
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  timeoutMs?: number;
  headers?: Record<string, string>;
}

/**
 * JSON over HTTP with a deadline. Resolves with the parsed body on 2xx; otherwise throws RemoteError
 * carrying the peer's error code (or UNREACHABLE when nothing answered; that one is retryable).
 */
export async function requestJson<T>(url: string, options: RequestOptions = {}): Promise<T> {
  const { method = options.body === undefined ? 'GET' : 'POST', timeoutMs = 10_000 } = options;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: {
        accept: 'application/json',
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'follow',
    });
  } catch (err) {
    const reason = errorMessage(err);
    throw new RemoteError('UNREACHABLE', `${method} ${url}: ${reason}`, undefined, {
      cause: err,
      retryable: true,
      peerMessage: reason,
    });
  }
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text !== '') {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) {
    const body = parsed as Partial<ErrorBody> | undefined;
    const code = body?.error?.code ?? `HTTP_${response.status}`;
    const message = body?.error?.message ?? (typeof parsed === 'string' ? parsed : response.statusText);
    throw new RemoteError(code, `${method} ${url}: ${response.status} ${message}`, response.status, {
      retryable: response.status >= 500,
      peerMessage: message,
      field: body?.error?.field,
    });
  }
  return parsed as T;
}

/** Listens on `host:port` (port 0: an ephemeral one) and resolves with the bound port; a bind error rejects. */
export function listenHttp(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error(`unexpected server address ${String(address)}`));
      else resolve(address.port);
    });
  });
}

/** Closes the server and every open connection (an idle keep-alive one would otherwise hold close() open). */
export function closeHttpServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
