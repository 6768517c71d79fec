// `--hostname`: the name offers and /master/state show for an agent or master (Mesos's --hostname), so that
// several agents on one machine can be told apart by hostname constraints.
import { ValidationError } from './errors.js';

/** A DNS-ish name: 1-255 printable characters without spaces. Throws ValidationError (field `hostname`). */
export function parseHostname(raw: string): string {
  const name = raw.trim();
  if (name === '') throw new ValidationError('hostname', 'must not be empty');
  if (name.length > 255) throw new ValidationError('hostname', 'must be at most 255 characters');
  if (!/^[\x21-\x7e]+$/.test(name)) throw new ValidationError('hostname', `'${raw}' must not contain spaces or control characters`);
  return name;
}
