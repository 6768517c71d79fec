// The graph of jobs and their parents: whether a new or changed job keeps it valid (known parents, no
// cycle), and who depends on whom.
import { ValidationError } from '../../common/index.js';

/** name → parents (empty for a scheduled job). */
export type JobGraph = ReadonlyMap<string, readonly string[]>;

/** Throws a ValidationError naming `parents[i]` when `name` with `parents` would break `graph`. */
export function checkParents(graph: JobGraph, name: string, parents: readonly string[]): void {
  parents.forEach((parent, i) => {
    if (!graph.has(parent) && parent !== name) throw new ValidationError(`parents[${i}]`, `unknown job '${parent}'`);
  });
  const next = new Map(graph);
  next.set(name, parents);
  const cycle = findCycle(next);
  if (cycle) {
    const i = parents.findIndex((p) => cycle.includes(p));
    throw new ValidationError(`parents[${Math.max(i, 0)}]`, `would make a dependency cycle: ${cycle.join(' → ')}`);
  }
}

/** A cycle as a path that starts and ends at the same job, or undefined. */
export function findCycle(graph: JobGraph): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    const s = state.get(node);
    if (s === 'done') return undefined;
    if (s === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const parent of graph.get(node) ?? []) {
      const found = visit(parent);
      if (found) return found;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of graph.keys()) {
    const found = visit(node);
    if (found) return found;
  }
  return undefined;
}

/** The jobs that list `name` as a parent. */
export function childrenOf(graph: JobGraph, name: string): string[] {
  return [...graph].filter(([, parents]) => parents.includes(name)).map(([child]) => child);
}
