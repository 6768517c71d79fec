// A fan-out over controllers or hierarchies settles every branch; its failures are reported together,
// each by name (Mesos's isolators report every failing controller, not just the first).
import { errorMessage } from '../common/index.js';

export interface SettledFailures {
  /** `<name>: <message>` for each rejected branch, in order. */
  messages: string[];
  /** The rejection reasons, for an AggregateError cause. */
  errors: unknown[];
}

/** `names[i]` names `results[i]`. */
export function settledFailures(
  results: readonly PromiseSettledResult<unknown>[],
  names: readonly string[],
): SettledFailures {
  const failures: SettledFailures = { messages: [], errors: [] };
  results.forEach((result, i) => {
    if (result.status === 'rejected') {
      failures.messages.push(`${names[i]}: ${errorMessage(result.reason)}`);
      failures.errors.push(result.reason);
    }
  });
  return failures;
}
