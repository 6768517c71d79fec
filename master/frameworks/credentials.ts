// Framework authentication (--credentials FILE): HTTP Basic principal/secret pairs, as Mesos's
// --credentials takes them (JSON {"credentials":[{"principal","secret"}]} or "principal secret" lines).
import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ValidationError, errorMessage } from '../../common/index.js';
import { UnauthorizedError } from '../scheduler/index.js';

/** Parses a credentials file's text; a bad one is a ValidationError naming the line or entry. */
export function parseCredentials(text: string, source: string): Map<string, string> {
  const credentials = new Map<string, string>();
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new ValidationError(source, `not valid JSON: ${(err as Error).message}`);
    }
    const list = (parsed as { credentials?: unknown }).credentials;
    if (!Array.isArray(list)) throw new ValidationError(`${source}: credentials`, 'must be an array of {principal, secret}');
    list.forEach((entry: unknown, i) => {
      const { principal, secret } = (entry ?? {}) as { principal?: unknown; secret?: unknown };
      if (typeof principal !== 'string' || principal === '' || typeof secret !== 'string') {
        throw new ValidationError(`${source}: credentials[${i}]`, 'needs a non-empty principal and a secret (strings)');
      }
      credentials.set(principal, secret);
    });
    return credentials;
  }
  trimmed.split('\n').forEach((line, i) => {
    const words = line.trim().split(/\s+/);
    if (words.length === 1 && words[0] === '') return;
    if (words.length !== 2) throw new ValidationError(`${source}:${i + 1}`, "expected 'principal secret'");
    credentials.set(words[0]!, words[1]!);
  });
  if (credentials.size === 0) throw new ValidationError(source, 'holds no credentials');
  return credentials;
}

/** Reads and parses --credentials FILE; an unreadable or bad file is a ValidationError naming it. */
export async function readCredentialsFile(path: string): Promise<Map<string, string>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ValidationError('--credentials', `cannot read ${path}: ${errorMessage(err)}`);
  }
  return parseCredentials(text, path);
}

/** Checks an Authorization header against the credentials: the principal, or UnauthorizedError (401). */
export function basicAuthenticator(credentials: ReadonlyMap<string, string>): (authorization: string | undefined) => string {
  return (authorization) => {
    const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
    if (!match?.[1]) throw new UnauthorizedError('framework authentication is required (HTTP Basic principal:secret)');
    const decoded = Buffer.from(match[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const principal = colon < 0 ? decoded : decoded.slice(0, colon);
    const secret = colon < 0 ? '' : decoded.slice(colon + 1);
    const expected = credentials.get(principal);
    if (expected === undefined || !sameSecret(expected, secret)) throw new UnauthorizedError(`wrong credentials for principal '${principal}'`);
    return principal;
  };
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
