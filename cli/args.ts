// Parsing and validation of flag values. Each parser takes the raw string and returns a typed value or
// throws UsageError with a message fit for a terminal; main.ts turns that into exit code 2.
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { ValidationError, ZkError, parseHostname, parseZkUrl, type ZkUrl } from '../common/index.js';
import { UsageError } from './errors.js';

export const DEFAULT_MASTER = '127.0.0.1:5050';
export const DEFAULT_MASTER_PORT = 5050;
export const DEFAULT_WORK_DIR = '/var/lib/tessera';

/** Where a master (or agent) listens, in the forms the daemons and HTTP clients need. */
export interface Address {
  host: string;
  port: number;
  /** `host:port` (IPv6 hosts in brackets), what `Agent.create({ master })` takes. */
  hostPort: string;
  /** `http://host:port`, no trailing slash. */
  url: string;
}

/** A `--master` flag: a fixed master, or ZooKeeper to find the leading one in (`zk://h1,h2/tessera`). */
export type MasterTarget =
  | { kind: 'address'; address: Address; /** as the user could type it again */ text: string }
  /** `raw` keeps the credentials for the daemons; `text` hides them for messages. */
  | { kind: 'zk'; zk: ZkUrl; raw: string; text: string };

export function parseMasterTarget(raw: string): MasterTarget {
  if (/^zk:\/\//i.test(raw.trim())) {
    const zk = parseZkFlag(raw);
    return { kind: 'zk', zk, raw: raw.trim(), text: zk.redacted };
  }
  const address = parseMasterAddress(raw);
  return { kind: 'address', address, text: address.hostPort };
}

export function targetOf(address: Address): MasterTarget {
  return { kind: 'address', address, text: address.hostPort };
}

/** `zk://[user:pass@]host[:port][,host[:port]…]/path`; a bad one is a usage error naming what is wrong. */
export function parseZkFlag(raw: string): ZkUrl {
  try {
    return parseZkUrl(raw.trim());
  } catch (err) {
    if (err instanceof ZkError) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * Accepts `host`, `host:port`, `http://host:port` (a trailing `/` is fine) and `[v6]:port`.
 * A missing port means 5050, the master's default.
 */
export function parseMasterAddress(raw: string, defaultPort = DEFAULT_MASTER_PORT): Address {
  const text = raw.trim();
  if (text === '') throw new UsageError('the master address is empty; expected host:port');
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'http') {
    throw new UsageError(
      scheme === 'zk'
        ? `'${raw}': a ZooKeeper URL is not accepted here; give the master as host:port`
        : `'${raw}': unsupported scheme '${scheme}://'; expected host:port or http://host:port`,
    );
  }
  let url: URL;
  try {
    url = new URL(scheme === undefined ? `http://${text}` : text);
  } catch {
    throw new UsageError(`'${raw}' is not a valid address; expected host:port or http://host:port`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new UsageError(`'${raw}' has a path; expected only host:port`);
  }
  if (url.username !== '' || url.password !== '') throw new UsageError(`'${raw}': credentials are not supported`);
  if (url.hostname === '') throw new UsageError(`'${raw}' has no host`);
  // URL drops the port when it is the scheme's default (80), so read it back from the text as well.
  const explicitPort = /:(\d+)\/?$/.exec(text)?.[1];
  const port = explicitPort === undefined ? (url.port === '' ? defaultPort : Number(url.port)) : Number(explicitPort);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new UsageError(`'${raw}': port must be between 1 and 65535`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return { host, port, hostPort: `${hostPart}:${port}`, url: `http://${hostPart}:${port}` };
}

/** An agent's address from its libprocess pid, `slave(1)@10.0.0.5:5051`. */
export function addressFromPid(pid: string): Address | undefined {
  const at = pid.lastIndexOf('@');
  if (at < 0) return undefined;
  try {
    return parseMasterAddress(pid.slice(at + 1));
  } catch {
    return undefined;
  }
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `30s`, `500ms`, `2m`, `1h`, or plain (possibly fractional) seconds `30`. Returns milliseconds. */
export function parseDuration(raw: string): number {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$/i.exec(raw);
  if (!match?.[1]) {
    throw new UsageError(`'${raw}' is not a duration; use e.g. 30s, 500ms, 2m or plain seconds`);
  }
  const unit = (match[2] ?? 's').toLowerCase();
  const factor = DURATION_UNITS_MS[unit];
  if (factor === undefined) throw new UsageError(`'${raw}': unknown unit '${unit}'`);
  const ms = Number(match[1]) * factor;
  if (!Number.isFinite(ms)) throw new UsageError(`'${raw}' is too long`);
  return Math.round(ms);
}

/** A listening port; 0 means "any free port" (the daemons report the one they got). */
export function parsePort(raw: string): number {
  const value = parseIntegerText(raw, 'a port');
  if (value < 0 || value > 65535) throw new UsageError(`'${raw}' is not a port; expected 0-65535`);
  return value;
}

/** A number > 0 (cpus, mem). */
export function parsePositiveNumber(raw: string, what = 'a positive number'): number {
  const value = parseNumberText(raw, what);
  if (value <= 0) throw new UsageError(`'${raw}' must be greater than 0`);
  return value;
}

/** A number >= 0 (grace seconds). */
export function parseNonNegativeNumber(raw: string, what = 'a number'): number {
  const value = parseNumberText(raw, what);
  if (value < 0) throw new UsageError(`'${raw}' must not be negative`);
  return value;
}

/** An integer > 0 (pids). */
export function parsePositiveInteger(raw: string): number {
  const value = parseIntegerText(raw, 'a whole number');
  if (value <= 0) throw new UsageError(`'${raw}' must be greater than 0`);
  return value;
}

/** An integer >= 0 (reserved memory in MB). */
export function parseNonNegativeInteger(raw: string): number {
  const value = parseIntegerText(raw, 'a whole number');
  if (value < 0) throw new UsageError(`'${raw}' must not be negative`);
  return value;
}

/** Grace period in seconds: plain seconds or a duration (`10s`, `1m`). */
export function parseGraceSeconds(raw: string): number {
  return parseDuration(raw) / 1000;
}

/** The refresh interval of `tessera top`: a duration of at least 100 ms. */
export function parseInterval(raw: string): number {
  const ms = parseDuration(raw);
  if (ms < 100) throw new UsageError(`'${raw}' is too short; the interval must be at least 100ms`);
  return ms;
}

export function parseIp(raw: string): string {
  const text = raw.trim();
  if (isIP(text) === 0) throw new UsageError(`'${raw}' is not an IP address`);
  return text;
}

/** `--hostname` of a master or agent (common's rule, as a usage error). */
export function parseHostnameFlag(raw: string): string {
  try {
    return parseHostname(raw);
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(`'${raw}': ${err.message}`);
    throw err;
  }
}

/** A bind address: an IP or a host name. */
export function parseHost(raw: string): string {
  const text = raw.trim();
  if (text === '' || /[\s/]/.test(text)) throw new UsageError(`'${raw}' is not a host or IP address`);
  return text;
}

export function parseWorkDir(raw: string): string {
  if (raw.trim() === '') throw new UsageError('the work directory is empty');
  return resolve(raw);
}

export const ISOLATION_MODES = ['auto', 'cgroups', 'posix'] as const;
export type IsolationMode = (typeof ISOLATION_MODES)[number];
export const DOCKER_MODES = ['auto', 'on', 'off'] as const;
export type DockerMode = (typeof DOCKER_MODES)[number];

export function parseIsolation(raw: string): IsolationMode {
  return parseChoice(raw, ISOLATION_MODES);
}

export function parseDockerMode(raw: string): DockerMode {
  return parseChoice(raw, DOCKER_MODES);
}

/** A cgroup name beneath the agent's own cgroup: relative, no `..`. */
export function parseCgroupsRoot(raw: string): string {
  const text = raw.trim().replace(/^\/+|\/+$/g, '');
  if (text === '' || text.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new UsageError(`'${raw}' is not a cgroup name; expected e.g. 'tessera' (relative, no '..')`);
  }
  return text;
}

function parseChoice<T extends string>(raw: string, choices: readonly T[]): T {
  const text = raw.trim().toLowerCase();
  const found = choices.find((choice) => choice === text);
  if (found === undefined) throw new UsageError(`'${raw}' is not one of ${choices.join(', ')}`);
  return found;
}

function parseNumberText(raw: string, what: string): number {
  const text = raw.trim();
  // Number('') is 0 and Number('0x10') is 16: accept only plain decimal notation.
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new UsageError(`'${raw}' is not ${what}`);
  const value = Number(text);
  if (!Number.isFinite(value)) throw new UsageError(`'${raw}' is not ${what}`);
  return value;
}

function parseIntegerText(raw: string, what: string): number {
  const text = raw.trim();
  if (!/^[+-]?\d+$/.test(text)) throw new UsageError(`'${raw}' is not ${what}`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new UsageError(`'${raw}' is too large`);
  return value;
}

/**
 * The default task name: the image's repository name (`tessera-test/busybox:latest` → `busybox`) or the
 * command's first word (`/bin/sleep 5` → `sleep`), reduced to the characters a task name allows.
 */
export function defaultTaskName(image: string | undefined, command: readonly string[]): string {
  let base: string | undefined;
  if (image !== undefined) {
    const withoutDigest = image.split('@')[0] ?? image;
    const lastPart = withoutDigest.split('/').pop() ?? withoutDigest;
    base = lastPart.split(':')[0];
  } else {
    const firstWord = command.join(' ').trim().split(/\s+/)[0];
    base = firstWord?.split('/').pop();
  }
  const cleaned = (base ?? '')
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 200);
  return cleaned === '' ? 'task' : cleaned;
}
