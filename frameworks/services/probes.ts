// The real probes: HTTP GET host:port/path (2xx/3xx is healthy) and TCP connect, each within timeoutSeconds.
import { connect } from 'node:net';
import { assertNever, errorMessage } from '../../common/index.js';
import type { HealthCheck } from './app-definition.js';
import type { ProbeResult } from './health-monitor.js';

export async function probe(check: HealthCheck, host: string, port: number): Promise<ProbeResult> {
  switch (check.protocol) {
    case 'HTTP':
    case 'MESOS_HTTP':
      return httpProbe(host, port, check.path, check.timeoutSeconds * 1000, check.ignoreHttp1xx);
    case 'TCP':
    case 'MESOS_TCP':
      return tcpProbe(host, port, check.timeoutSeconds * 1000);
    case 'COMMAND':
    case 'MESOS_COMMAND':
      // Never probed from here: the agent runs it inside the task (the health monitor skips these).
      return Promise.resolve({ ok: false, cause: 'a COMMAND check is run by the agent, not probed by the framework' });
    default:
      return assertNever(check.protocol, 'health check protocol');
  }
}

export async function httpProbe(host: string, port: number, path: string, timeoutMs: number, ignoreHttp1xx = false): Promise<ProbeResult> {
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
  try {
    const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    await response.body?.cancel();
    if (response.status >= 200 && response.status < 400) return { ok: true };
    if (ignoreHttp1xx && response.status < 200) return { ok: true };
    return { ok: false, cause: `GET ${url}: HTTP ${response.status}` };
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    return { ok: false, cause: `GET ${url}: ${cause === undefined ? errorMessage(err) : errorMessage(cause)}` };
  }
}

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (result: ProbeResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => done({ ok: false, cause: `connect ${host}:${port}: timed out after ${timeoutMs} ms` }), timeoutMs);
    socket.once('connect', () => done({ ok: true }));
    socket.once('error', (err) => done({ ok: false, cause: `connect ${host}:${port}: ${err.message}` }));
  });
}
