import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { closeHttpServer, listenHttp, systemClock } from '../../common/index.js';
import { parseAppDefinition } from './app-definition.js';
import { HealthMonitor } from './health-monitor.js';
import { httpProbe, tcpProbe } from './probes.js';

describe('services health probes (real sockets on loopback)', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/ok' ? 200 : req.url === '/moved' ? 302 : 503;
      res.end();
    });
    port = await listenHttp(server, 0, '127.0.0.1');
  });
  after(() => closeHttpServer(server));

  it('HTTP: 2xx and 3xx are healthy, 5xx and refused are not', async () => {
    assert.equal((await httpProbe('127.0.0.1', port, '/ok', 2000)).ok, true);
    assert.equal((await httpProbe('127.0.0.1', port, '/moved', 2000)).ok, true);
    const bad = await httpProbe('127.0.0.1', port, '/down', 2000);
    assert.equal(bad.ok, false);
    assert.match(bad.cause ?? '', /503/);
    const tcp = createTcpServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const closedPort = (tcp.address() as { port: number }).port;
    await new Promise<void>((r) => tcp.close(() => r()));
    const refused = await httpProbe('127.0.0.1', closedPort, '/', 2000);
    assert.equal(refused.ok, false);
    assert.match(refused.cause ?? '', /ECONNREFUSED/);
  });

  it('TCP: connect is healthy, refused is not', async () => {
    assert.equal((await tcpProbe('127.0.0.1', port, 2000)).ok, true);
    const tcp = createTcpServer();
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
    const closedPort = (tcp.address() as { port: number }).port;
    await new Promise<void>((r) => tcp.close(() => r()));
    assert.equal((await tcpProbe('127.0.0.1', closedPort, 2000)).ok, false);
  });
});

describe('services health monitor', () => {
  it('probes HTTP/TCP checks itself and leaves COMMAND checks to the agent', async () => {
    const def = parseAppDefinition({
      id: 'web',
      cmd: 'x',
      healthChecks: [
        { protocol: 'COMMAND', command: { value: 'true' }, intervalSeconds: 0.02, timeoutSeconds: 0.01 },
        { protocol: 'TCP', intervalSeconds: 0.02, timeoutSeconds: 0.01 },
      ],
    });
    const probed: string[] = [];
    const reported: number[] = [];
    let done: () => void = () => undefined;
    const enough = new Promise<void>((resolve) => (done = resolve));
    const monitor = new HealthMonitor({
      clock: systemClock,
      probe: (check) => {
        probed.push(check.protocol);
        return Promise.resolve({ ok: true });
      },
      report: (_taskId, index) => {
        reported.push(index);
        if (reported.length >= 3) done();
      },
    });
    monitor.sync([{ taskId: 't1', host: '127.0.0.1', ports: [1], checks: def.healthChecks }]);
    await enough;
    monitor.stop();
    assert.ok(probed.every((p) => p === 'TCP'), probed.join());
    assert.ok(reported.every((i) => i === 1), 'results are reported by the check index');
  });
});
