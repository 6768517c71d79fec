// HTTP and TCP checks: a TCP connect, or a GET whose status must be 200-399 (Mesos's rule), against
// the task's address (127.0.0.1 for command tasks and host-network containers, the container's IP on
// a bridge). HTTPS does not verify the certificate, as Mesos's health checker does not.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { errorMessage } from '../../common/index.js';
import type { ProbeResult } from './health-checker.js';

export function runTcpProbe(host: string, port: number, signal: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (result: ProbeResult): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = (): void => done({ healthy: false, message: 'aborted' });
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    socket.once('connect', () => done({ healthy: true, message: `connected to ${host}:${port}` }));
    socket.once('error', (err) => done({ healthy: false, message: `cannot connect to ${host}:${port}: ${errorMessage(err)}` }));
  });
}

export function runHttpProbe(
  target: { host: string; port: number; path?: string; scheme?: 'http' | 'https' },
  signal: AbortSignal,
): Promise<ProbeResult> {
  const scheme = target.scheme ?? 'http';
  const path = target.path === undefined || target.path === '' ? '/' : target.path.startsWith('/') ? target.path : `/${target.path}`;
  const url = `${scheme}://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}${path}`;
  return new Promise((resolve) => {
    const client = scheme === 'https' ? https : http;
    const request = client.get(url, { signal, agent: false, ...(scheme === 'https' ? { rejectUnauthorized: false } : {}) }, (response) => {
      const status = response.statusCode ?? 0;
      response.resume();
      response.once('error', () => undefined);
      resolve(
        status >= 200 && status < 400
          ? { healthy: true, message: `GET ${url}: ${status}` }
          : { healthy: false, message: `GET ${url}: ${status}` },
      );
      request.destroy();
    });
    request.once('error', (err) => resolve({ healthy: false, message: signal.aborted ? 'aborted' : `GET ${url}: ${errorMessage(err)}` }));
  });
}
