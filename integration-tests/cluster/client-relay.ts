// Runs inside the client host's network namespace (started by the harness with nsenter) and relays
// HTTP requests that arrive on a Unix socket to the addresses on the namespace bridge. A path-named
// Unix socket belongs to the filesystem, not to a network namespace, so the test process in the root
// namespace reaches it, and every request really leaves from the client host — no uplink into the
// host's own network needed.
//
// A request's target is its absolute URL (proxy style): `GET http://10.1.2.3:5050/master/state`.
// Relay failures answer 502 with the reason in `x-relay-error`.
import { request as httpRequest, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { rm } from 'node:fs/promises';

const UPSTREAM_TIMEOUT_MS = 15_000;

function relay(req: IncomingMessage, res: ServerResponse): void {
  let target: URL;
  try {
    target = new URL(req.url ?? '');
    if (target.protocol !== 'http:') throw new Error(`only http:// targets, not ${target.protocol}`);
  } catch (err) {
    res.writeHead(400, { 'x-relay-error': String(err) }).end();
    return;
  }
  const headers = { ...req.headers, host: target.host };
  const upstream = httpRequest(
    { host: target.hostname, port: target.port || 80, path: `${target.pathname}${target.search}`, method: req.method, headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.setTimeout(UPSTREAM_TIMEOUT_MS, () => upstream.destroy(new Error(`no answer from ${target.host} within ${UPSTREAM_TIMEOUT_MS} ms`)));
  upstream.on('error', (err) => {
    if (!res.headersSent) res.writeHead(502, { 'x-relay-error': err.message.replace(/[^\x20-\x7e]/g, '?') }).end();
    else res.destroy(err);
  });
  req.pipe(upstream);
}

async function main(): Promise<void> {
  const socketPath = process.argv[2];
  if (!socketPath) {
    process.stderr.write('usage: client-relay SOCKET_PATH\n');
    process.exit(2);
  }
  await rm(socketPath, { force: true });
  const server = createServer(relay);
  server.listen(socketPath, () => process.stdout.write(`relaying on ${socketPath}\n`));
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    void rm(socketPath, { force: true }).finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
