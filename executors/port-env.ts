// The ports a task was given, as the environment it sees: PORT0…PORTn-1 in the order of its ranges
// (and of the ports within each), PORT = PORT0, and PORTS = the comma list — the names Marathon
// gives tasks, so programs written for Mesos clusters find their ports unchanged.
import type { PortRange } from '../common/index.js';

/** Every port of `ranges`, ranges taken in the order given; a port listed twice counts once. */
export function taskPorts(ranges: readonly PortRange[] | undefined): number[] {
  const ports: number[] = [];
  const seen = new Set<number>();
  for (const range of ranges ?? []) {
    for (let port = range.begin; port <= range.end; port++) {
      if (seen.has(port)) continue;
      seen.add(port);
      ports.push(port);
    }
  }
  return ports;
}

/** {} for a task without ports. */
export function portEnv(ranges: readonly PortRange[] | undefined): Record<string, string> {
  const ports = taskPorts(ranges);
  const env: Record<string, string> = {};
  if (ports.length === 0) return env;
  ports.forEach((port, i) => {
    env[`PORT${i}`] = String(port);
  });
  env.PORT = String(ports[0]);
  env.PORTS = ports.join(',');
  return env;
}
