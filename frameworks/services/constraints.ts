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

/** What constraints know beyond the offer and the placed tasks. */
export interface ConstraintContext {
  /** How many distinct values of `field` the framework saw recently in offers (GROUP_BY spreads over them). */
  valuesSeen?: (field: string) => number;
}

/** Whether one more task of the app may go to `offer`, given where its live tasks are. */
export function satisfies(constraint: Constraint, offer: Placement, placed: readonly Placement[], context: ConstraintContext = {}): boolean {
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
    case 'GROUP_BY':
      return value !== undefined && groupByAllows(constraint, value, placed, context);
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

export function satisfiesAll(constraints: readonly Constraint[], offer: Placement, placed: readonly Placement[], context: ConstraintContext = {}): boolean {
  return constraints.every((c) => satisfies(c, offer, placed, context));
}

/**
 * GROUP_BY (Marathon's rule): a value no task has yet is always welcome; a value already used takes one
 * more only while it is among the least used, and only once as many distinct values are in use as
 * expected — the constraint's count, or (Tessera) the values seen in offers if more — so instances spread
 * evenly instead of piling onto the first value offered.
 */
function groupByAllows(constraint: Constraint, value: string, placed: readonly Placement[], context: ConstraintContext): boolean {
  const counts = new Map<string, number>();
  for (const p of placed) {
    const v = fieldValue(p, constraint.field);
    // '' is a task whose place is not known (adopted after a takeover): no group.
    if (v !== undefined && v !== '') counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const mine = counts.get(value);
  if (mine === undefined) return true;
  const expected = Math.max(constraint.value === undefined ? 0 : Number(constraint.value), context.valuesSeen?.(constraint.field) ?? 0);
  if (counts.size < expected) return false;
  return mine === Math.min(...counts.values());
}
