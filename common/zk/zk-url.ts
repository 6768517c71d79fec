// zk:// URLs as Mesos takes them: zk://[user:password@]host[:port][,host[:port]...]/path.
import { ZkError } from './errors.js';

export const ZK_DEFAULT_PORT = 2181;

export interface ZkCredentials {
  user: string;
  password: string;
}

export interface ZkUrl {
  /** 'host:port' ('[v6]:port' for IPv6), the port defaulted to 2181. */
  servers: string[];
  /** Absolute, no trailing slash, never '/'. */
  path: string;
  /** Digest credentials (percent-decoded). */
  credentials?: ZkCredentials;
  /** The URL with the password replaced by *** — the only form that may be logged. */
  redacted: string;
}

const SCHEME = 'zk://';
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

export function isZkUrl(text: string): boolean {
  return text.trim().toLowerCase().startsWith(SCHEME);
}

/** Parses a zk:// URL; throws ZkError BAD_ZK_URL saying exactly what is wrong. `field` names the flag. */
export function parseZkUrl(text: string, field?: string): ZkUrl {
  const input = text.trim();
  // Until the credentials are split off, only a password-free rendering may appear in errors.
  let shown = redactRaw(input);
  const fail = (problem: string): never => {
    throw ZkError.badUrl(shown, problem, field);
  };
  if (input === '') fail('it is empty');
  const schemeEnd = input.indexOf('://');
  if (schemeEnd === -1) fail('it does not start with zk://');
  const scheme = input.slice(0, schemeEnd).toLowerCase();
  if (scheme !== 'zk') fail(`the scheme must be zk://, not ${scheme}://`);
  const rest = input.slice(SCHEME.length);

  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const rawPath = slash === -1 ? '' : rest.slice(slash);

  let credentials: ZkCredentials | undefined;
  let hostList = authority;
  const at = authority.lastIndexOf('@');
  if (at !== -1) {
    const userInfo = authority.slice(0, at);
    hostList = authority.slice(at + 1);
    const colon = userInfo.indexOf(':');
    if (colon === -1) fail('the credentials must be user:password before the @');
    let user = '';
    let password = '';
    try {
      user = decodeURIComponent(userInfo.slice(0, colon));
      password = decodeURIComponent(userInfo.slice(colon + 1));
    } catch {
      fail('the credentials have a bad percent-encoding (write a literal % as %25)');
    }
    if (user === '') fail('the user name before the : is empty');
    credentials = { user, password };
  }
  shown = `${SCHEME}${credentials ? `${encodeURIComponent(credentials.user)}:***@` : ''}${hostList}${rawPath}`;

  if (hostList === '') fail('no ZooKeeper host is given');
  const servers = hostList.split(',').map((entry) => parseServer(entry.trim(), fail));

  if (rawPath === '' || rawPath === '/') fail("a path is required after the hosts (e.g. /tessera); '/' is not supported");
  if (/[?#]/.test(rawPath)) fail('query strings and fragments are not supported');
  let path = rawPath.replace(/\/+$/, '');
  try {
    path = decodeURIComponent(path);
  } catch {
    fail('the path has a bad percent-encoding');
  }
  const segments = path.slice(1).split('/');
  if (segments.some((s) => s === '')) fail(`the path '${path}' has an empty segment (//)`);
  if (segments.some((s) => s === '.' || s === '..')) fail(`the path '${path}' may not contain . or .. segments`);
  if (segments[0] === 'zookeeper') fail('/zookeeper is reserved by ZooKeeper itself');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) fail('the path contains control characters');

  const redacted = `${SCHEME}${credentials ? `${encodeURIComponent(credentials.user)}:***@` : ''}${servers.join(',')}${path}`;
  return credentials ? { servers, path, credentials, redacted } : { servers, path, redacted };
}

function parseServer(entry: string, fail: (problem: string) => never): string {
  if (entry === '') return fail('a host in the comma-separated list is empty');
  let host: string;
  let portText: string | undefined;
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close === -1) return fail(`'${entry}' opens [ for an IPv6 address but never closes it`);
    host = entry.slice(1, close);
    const after = entry.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return fail(`unexpected '${after}' after the IPv6 address in '${entry}'`);
    portText = after === '' ? undefined : after.slice(1);
    if (host === '' || !IPV6.test(host) || !host.includes(':')) return fail(`'${host}' in '${entry}' is not an IPv6 address`);
  } else {
    const parts = entry.split(':');
    if (parts.length > 2) return fail(`'${entry}' looks like an IPv6 address: put it in brackets, e.g. [::1]:2181`);
    host = parts[0] ?? '';
    portText = parts[1];
    if (host === '') return fail(`the host in '${entry}' is empty`);
    if (!HOSTNAME.test(host)) return fail(`'${host}' is not a valid host name`);
  }
  let port = ZK_DEFAULT_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) return fail(`the port in '${entry}' must be a number from 1 to 65535`);
    port = Number(portText);
    if (port < 1 || port > 65535) return fail(`the port in '${entry}' must be a number from 1 to 65535`);
  }
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Hides everything between the scheme's // and the last @ before the path, before parsing. */
function redactRaw(text: string): string {
  const start = text.indexOf('://');
  if (start === -1) return text.includes('@') ? '***' : text;
  const rest = text.slice(start + 3);
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const at = authority.lastIndexOf('@');
  if (at === -1) return text;
  const colon = authority.indexOf(':');
  const user = colon !== -1 && colon < at ? authority.slice(0, colon) : authority.slice(0, at);
  return `${text.slice(0, start + 3)}${user}:***${rest.slice(at)}`;
}

/** Splits 'host:port' / '[v6]:port' (a ZkUrl server) into its parts. */
export function splitServer(server: string): { host: string; port: number } {
  const match = /^\[(.+)\]:(\d+)$/.exec(server) ?? /^([^:]+):(\d+)$/.exec(server);
  if (!match?.[1] || !match[2]) throw ZkError.badUrl(server, 'not host:port');
  return { host: match[1], port: Number(match[2]) };
}
