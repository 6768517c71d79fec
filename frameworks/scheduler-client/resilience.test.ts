// The client's timing logic against a scripted HTTP peer (a real master never goes silent on cue):
// 503 on SUBSCRIBE is retried, a stream without heartbeats is dropped after 3 intervals and
// re-subscribed with the framework id, and every request carries the Basic credentials and stream id.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { encodeRecord, silentLogger, waitFor } from '../../common/index.js';
import { SchedulerClient } from './index.js';

interface Seen {
  body: { type: string; framework_id?: { value: string }; acknowledge?: { uuid: string } };
  headers: http.IncomingHttpHeaders;
}

describe('scheduler client: retries, heartbeat watchdog, headers (scripted peer)', () => {
  let server: http.Server;
  let port: number;
  const seen: Seen[] = [];
  const open: http.ServerResponse[] = [];
  let subscribes = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Seen['body'];
        seen.push({ body, headers: req.headers });
        if (body.type !== 'SUBSCRIBE') {
          res.writeHead(202).end();
          return;
        }
        subscribes++;
        if (subscribes === 1) {
          res.writeHead(503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { code: 'NO_LEADER', message: 'no leader yet' } }));
          return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json', 'Mesos-Stream-Id': `stream-${subscribes}` });
        open.push(res);
        res.write(encodeRecord({ type: 'SUBSCRIBED', subscribed: { framework_id: { value: 'fw-x' }, heartbeat_interval_seconds: 0.1 } }));
        if (subscribes === 2) return; // then silence: the watchdog must give up on this stream
        const beat = setInterval(() => res.write(encodeRecord({ type: 'HEARTBEAT' })), 50);
        res.on('close', () => clearInterval(beat));
        res.write(
          encodeRecord({
            type: 'UPDATE',
            update: { status: { task_id: { value: 't1' }, agent_id: { value: 'a1' }, state: 'TASK_RUNNING', timestamp: 1, uuid: 'dXVpZA==' } },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const res of open) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('retries 503, drops a silent stream after 3 heartbeats, re-subscribes with the id, sends credentials and the stream id', async () => {
    const client = new SchedulerClient({
      master: `127.0.0.1:${port}`,
      frameworkInfo: { name: 'scripted', capabilities: ['TASK_KILLING_STATE'] },
      credentials: { principal: 'p', secret: 's' },
      logger: silentLogger,
    });
    const subscribed: string[] = [];
    const disconnected: string[] = [];
    client.on('subscribed', (id) => subscribed.push(id));
    client.on('disconnected', (reason) => disconnected.push(reason));
    try {
      client.start();
      await waitFor('two subscriptions', () => subscribed.length >= 2, 10_000);
      assert.deepEqual(subscribed.slice(0, 2), ['fw-x', 'fw-x']);
      assert.match(disconnected[0] ?? '', /no event from the master for 300 ms/);
      const subs = seen.filter((s) => s.body.type === 'SUBSCRIBE');
      assert.equal(subs[0]?.body.framework_id, undefined, 'the first SUBSCRIBE has no id');
      assert.deepEqual(subs[2]?.body.framework_id, { value: 'fw-x' }, 'the re-SUBSCRIBE carries the id it got');
      const ack = await waitFor('an automatic ACKNOWLEDGE', () => seen.find((s) => s.body.type === 'ACKNOWLEDGE'), 5_000);
      assert.equal(ack.body.acknowledge?.uuid, 'dXVpZA==');
      assert.equal(ack.headers['mesos-stream-id'], 'stream-3');
      await client.revive();
      const basic = `Basic ${Buffer.from('p:s').toString('base64')}`;
      for (const request of seen) assert.equal(request.headers.authorization, basic, `${request.body.type} without credentials`);
      assert.equal(client.connected, true);
    } finally {
      await client.stop();
    }
    assert.equal(client.connected, false);
  });
});
