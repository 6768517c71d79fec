// One JSON POST over node:http, with the whole answer read. Calls share a keep-alive agent; the
// SUBSCRIBE stream has its own socket and is not handled here (see subscription.ts).
import http from 'node:http';

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface PostOptions {
  agent: http.Agent;
  headers: Record<string, string>;
  timeoutMs: number;
}

export function postJson(url: string, body: unknown, options: PostOptions): Promise<HttpAnswer> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'POST',
      agent: options.agent,
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        'Content-Length': String(Buffer.byteLength(payload)),
        ...options.headers,
      },
    });
    req.setTimeout(options.timeoutMs, () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end(payload);
  });
}

/** The master's own words from an error answer: `{"error":{"message"}}`, else the text itself. */
export function answerMessage(answer: HttpAnswer): string {
  try {
    const body = JSON.parse(answer.text) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof body.error === 'string') return body.error;
    if (typeof body.error?.message === 'string') return body.error.message;
    if (typeof body.message === 'string') return body.message;
  } catch {
    // not JSON: Mesos answers plain text
  }
  const text = answer.text.trim();
  return text === '' ? http.STATUS_CODES[answer.status] ?? `status ${answer.status}` : text.slice(0, 500);
}

export function header(answer: { headers: http.IncomingHttpHeaders }, name: string): string | undefined {
  const value = answer.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}
