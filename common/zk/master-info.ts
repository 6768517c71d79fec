// MasterInfo: what each contending master writes into its json.info_<seq> znode, in the JSON form
// Mesos uses, so Mesos tooling finds a Tessera leader and Tessera tooling finds a Mesos one.
import type { JSONSchemaType } from 'ajv';
import { isIP } from 'node:net';
import { compileValidator } from '../validation.js';

export const MASTER_INFO_PREFIX = 'json.info_';

export interface MasterInfo {
  id: string;
  /** `master@IP:PORT` (libprocess UPID). */
  pid: string;
  hostname: string;
  /** Dotted IPv4 (or IPv6) text. Mesos itself writes a uint32 here; parseMasterInfo converts it. */
  ip: string;
  port: number;
  version: string;
  address: { hostname: string; ip: string; port: number };
}

export const masterInfoSchema: JSONSchemaType<MasterInfo> = {
  type: 'object',
  properties: {
    id: { type: 'string', minLength: 1 },
    pid: { type: 'string', minLength: 1 },
    hostname: { type: 'string' },
    ip: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    version: { type: 'string' },
    address: {
      type: 'object',
      properties: {
        hostname: { type: 'string' },
        ip: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
      },
      required: ['hostname', 'ip', 'port'],
      // Mesos writes more; readers must tolerate it.
      additionalProperties: true,
    },
  },
  required: ['id', 'pid', 'hostname', 'ip', 'port', 'version', 'address'],
  additionalProperties: true,
};

const validateMasterInfo = compileValidator(masterInfoSchema, 'MasterInfo');

export function masterInfoFor(options: { id: string; hostname: string; ip: string; port: number; version: string }): MasterInfo {
  const { id, hostname, ip, port, version } = options;
  const hostPort = isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
  return { id, pid: `master@${hostPort}`, hostname, ip, port, version, address: { hostname, ip, port } };
}

/** 'ip:port' ('[v6]:port' for IPv6) of the master's HTTP API. */
export function leaderAddress(info: MasterInfo): string {
  const ip = info.address.ip || info.ip;
  const port = info.address.port || info.port;
  return isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The sequence number of 'json.info_0000000012' (12); undefined for any other child name. */
export function sequenceOf(name: string): number | undefined {
  if (!name.startsWith(MASTER_INFO_PREFIX)) return undefined;
  const digits = name.slice(MASTER_INFO_PREFIX.length);
  if (!/^\d{1,10}$/.test(digits)) return undefined;
  return Number(digits);
}

/**
 * The znode data for `info`, as Mesos writes it: the top-level `ip` of an IPv4 master is a number
 * (see parseMasterInfo), so Mesos's own tools can read a Tessera leader; `address.ip` stays a string.
 */
export function serializeMasterInfo(info: MasterInfo): Buffer {
  const ip = isIP(info.ip) === 4 ? ipv4ToMesosUint32(info.ip) : info.ip;
  return Buffer.from(JSON.stringify({ ...info, ip }), 'utf8');
}

/** An IPv4 address as Mesos's MasterInfo.ip: network byte order read as a little-endian uint32. */
export function ipv4ToMesosUint32(ip: string): number {
  const [a = 0, b = 0, c = 0, d = 0] = ip.split('.').map(Number);
  return (a | (b << 8) | (c << 16) | (d << 24)) >>> 0;
}

/**
 * Reads a json.info_ znode's data. Accepts Mesos's own form, where the top-level `ip` is the IPv4
 * address as a uint32 in network byte order read on a little-endian host (127.0.0.1 → 16777343).
 * Throws a ValidationError (from common) when the data is not a MasterInfo.
 */
export function parseMasterInfo(data: Buffer | string): MasterInfo {
  const value: unknown = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    if (typeof record.ip === 'number') {
      const address = record.address as Record<string, unknown> | undefined;
      record.ip = typeof address?.ip === 'string' ? address.ip : uint32ToIpv4(record.ip);
    }
  }
  return validateMasterInfo(value);
}

function uint32ToIpv4(n: number): string {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff].join('.');
}
