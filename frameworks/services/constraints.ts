// Placement constraints (Marathon's [field, operator, value]) checked against an offer and the
// app's tasks already placed. `hostname` (or `@hostname`) is the agent's hostname; any other field
// is an agent attribute.
import { assertNever } from '../../common/index.js';
import type { Constraint } from './app-definition.js';

/** Where a task runs or an offer comes from: what constraints look at. */
export interface Placement {
  hostname: string;
  attributes: Record<string, string>;
}

export function fieldValue(place: Placement, field: string): string | undefined {
  if (field === 'hostname' || field === '@hostname') return place.hostname;
  return place.attributes[field];
}

function fullMatch(pattern: string, value: string): boolean {
  return new RegExp(`^(?:${pattern})$`).test(value);
}

/** Whether one more task of the app may go to `offer`, given where its live tasks are. */
export function satisfies(constraint: Constraint, offer: Placement, placed: readonly Placement[]): boolean {
  const value = fieldValue(offer, constraint.field);
  switch (constraint.operator) {
    case 'UNIQUE':
      return value !== undefined && placed.every((p) => fieldValue(p, constraint.field) !== value);
    case 'CLUSTER': {
      if (value === undefined) return false;
      if (constraint.value !== undefined && constraint.value !== '') return value === constraint.value;
      // Without a value: wherever the first task went.
      const first = placed[0];
      return first === undefined || fieldValue(first, constraint.field) === value;
    }
    case 'LIKE':
      return value !== undefined && fullMatch(constraint.value ?? '', value);
    case 'UNLIKE':
      return value === undefined || !fullMatch(constraint.value ?? '', value);
    case 'MAX_PER': {
      if (value === undefined) return false;
      const max = Number(constraint.value);
      return placed.filter((p) => fieldValue(p, constraint.field) === value).length < max;
    }
    default:
      return assertNever(constraint.operator, 'constraint operator');
  }
}

export function satisfiesAll(constraints: readonly Constraint[], offer: Placement, placed: readonly Placement[]): boolean {
  return constraints.every((c) => satisfies(c, offer, placed));
}
