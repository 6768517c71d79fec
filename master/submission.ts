// Checks on a task submission beyond its schema: the rules that tie fields together.
import {
  ValidationError,
  compileValidator,
  taskSubmissionSchema,
  type TaskSubmission,
} from '../common/index.js';

const validateShape = compileValidator(taskSubmissionSchema);

/** Returns the submission typed, or throws ValidationError naming the field (e.g. `resources.mem`). */
export function validateSubmission(body: unknown): TaskSubmission {
  const submission = validateShape(body);
  const { command, container } = submission;
  const hasValue = command?.value !== undefined;
  if (container?.type === 'MESOS' && container.docker !== undefined) {
    throw new ValidationError('container.docker', 'only allowed when container.type is DOCKER');
  }
  if (container?.type === 'MESOS' && !hasValue) {
    throw new ValidationError('command.value', 'is required when container.type is MESOS');
  }
  if (container?.type !== 'DOCKER' && !hasValue) {
    throw new ValidationError('command.value', 'is required unless the task has a DOCKER container');
  }
  if (command?.shell === false && !hasValue) {
    throw new ValidationError('command.value', 'is required when command.shell is false (it is the program to run)');
  }
  return submission;
}

/** Which executor an agent needs for this task. */
export function executorFor(task: Pick<TaskSubmission, 'container'>): 'command' | 'docker' {
  return task.container?.type === 'DOCKER' ? 'docker' : 'command';
}
