// POST /internal/v1/acknowledgements: the master relays the frameworks' ACKNOWLEDGE calls. Each entry
// names a task and the uuid of one of its status updates; the status update manager drops it if it is
// that task's head update and ignores it otherwise (unknown, stale and repeated ones alike), so the
// master may send an acknowledgement more than once.
import type { JSONSchemaType } from 'ajv';
import { compileValidator, type AcknowledgeRequest } from '../../common/index.js';

/** Acknowledgements one request may carry: a master batching them stays well below this. */
export const MAX_ACKNOWLEDGEMENTS = 4096;

// The same id and uuid bounds as common's task status schema. Kept here because common/schemas.ts
// has no schema for this body yet (it belongs there, beside the other protocol bodies).
const acknowledgeRequestSchema: JSONSchemaType<AcknowledgeRequest> = {
  type: 'object',
  properties: {
    acknowledgements: {
      type: 'array',
      maxItems: MAX_ACKNOWLEDGEMENTS,
      items: {
        type: 'object',
        properties: {
          task_id: { type: 'string', pattern: '^[A-Za-z0-9_.:@-]{1,200}$' },
          uuid: { type: 'string', minLength: 1, maxLength: 100 },
        },
        required: ['task_id', 'uuid'],
        additionalProperties: false,
      },
    },
  },
  required: ['acknowledgements'],
  additionalProperties: false,
};

export const validateAcknowledgeRequest = compileValidator(acknowledgeRequestSchema);

/** What the endpoint needs: the status update manager's acknowledge(). */
export type Acknowledge = (taskId: string, uuid: string) => Promise<boolean>;

/**
 * Applies the acknowledgements in request order: each is applied before the next is looked at (the
 * synchronous part of acknowledge()), so acknowledging two consecutive updates of a task in one
 * request releases both. Resolves once every applied one is checkpointed.
 */
export async function applyAcknowledgements(acknowledge: Acknowledge, request: AcknowledgeRequest): Promise<{ applied: number }> {
  const results = await Promise.all(request.acknowledgements.map(({ task_id, uuid }) => acknowledge(task_id, uuid)));
  return { applied: results.filter(Boolean).length };
}
