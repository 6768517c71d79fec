// Where the master is: a zk:// URL (leader found in ZooKeeper, the Mesos way) or one fixed address
// (`host:port` / `http://host:port`) whose 307s are followed to the leader.
import { isZkUrl, parseZkUrl, type ZkUrl } from '../../common/index.js';
import { SchedulerClientError } from './errors.js';

export type MasterAddress = { kind: 'zk'; url: ZkUrl } | { kind: 'fixed'; base: string };

export function parseMasterAddress(text: string): MasterAddress {
  const input = text.trim();
  if (isZkUrl(input)) return { kind: 'zk', url: parseZkUrl(input, 'master') };
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(input) ? input : `http://${input}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new SchedulerClientError('BAD_MASTER', `master: '${text}' is neither host:port, http://host:port nor zk://host:port/path`);
  }
  if (url.protocol !== 'http:') {
    throw new SchedulerClientError('BAD_MASTER', `master: '${text}': only http:// and zk:// masters are supported, not ${url.protocol}//`);
  }
  if (url.port === '') {
    throw new SchedulerClientError('BAD_MASTER', `master: '${text}' names no port (e.g. ${url.hostname}:5050)`);
  }
  return { kind: 'fixed', base: `http://${url.host}` };
}

/**
 * The base URL a 307 sends us to. Masters send `Location: //ip:port/path` (protocol-relative); an
 * absolute or relative Location is resolved against the URL that was called.
 */
export function redirectBase(location: string, calledUrl: string): string {
  const resolved = location.startsWith('//') ? new URL(`http:${location}`) : new URL(location, calledUrl);
  return `${resolved.protocol}//${resolved.host}`;
}
