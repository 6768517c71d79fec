// What this agent says about itself besides resources (`--attributes "rack:r1;zone:eu-1;gpus:2"`),
// in Mesos's syntax: `name:value` pairs separated by `;`. A value that reads as a plain number is a
// SCALAR attribute, anything else TEXT. Mesos's RANGES (`[1-10]`) and SETS (`{a,b}`) are refused:
// frameworks here match on TEXT and SCALAR only.
import { ATTRIBUTE_NAME_PATTERN, ValidationError, type AgentAttributes } from '../common/index.js';

/** A plain decimal number as Mesos's Value::Scalar parser takes it: no hex, no exponent, no "Infinity". */
const SCALAR = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
const NAME = new RegExp(ATTRIBUTE_NAME_PATTERN);
const MAX_VALUE_LENGTH = 1024;

/** Throws ValidationError (field `attributes` or `attributes.<name>`) naming the bad part. */
export function parseAttributes(spec: string): AgentAttributes {
  const result: AgentAttributes = {};
  for (const raw of spec.split(';')) {
    const part = raw.trim();
    if (part === '') continue;
    const colon = part.indexOf(':');
    if (colon < 0) throw new ValidationError('attributes', `bad part '${part}': expected name:value`);
    const name = part.slice(0, colon).trim();
    const value = part.slice(colon + 1).trim();
    if (name === '') throw new ValidationError('attributes', `bad part '${part}': the name is empty`);
    if (!NAME.test(name)) {
      throw new ValidationError('attributes', `bad part '${part}': a name is 1-128 of A-Z a-z 0-9 _ . / -`);
    }
    if (Object.hasOwn(result, name)) throw new ValidationError(`attributes.${name}`, `bad part '${part}': given twice`);
    if (value === '') throw new ValidationError(`attributes.${name}`, `bad part '${part}': the value is empty`);
    if (value.length > MAX_VALUE_LENGTH) throw new ValidationError(`attributes.${name}`, `bad part '${part}': longer than ${MAX_VALUE_LENGTH} characters`);
    if (value.startsWith('[') || value.startsWith('{')) {
      throw new ValidationError(`attributes.${name}`, `bad part '${part}': range and set attributes are not supported (TEXT or a number)`);
    }
    result[name] = SCALAR.test(value) ? Number(value) : value;
  }
  return result;
}
