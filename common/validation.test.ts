import assert from 'node:assert/strict';
import { ValidationError } from './errors.js';
import { taskSubmissionSchema } from './schemas.js';
import { compileValidator } from './validation.js';

const validateSubmission = compileValidator(taskSubmissionSchema);

function fieldOf(body: unknown): string | undefined {
  try {
    validateSubmission(body);
  } catch (err) {
    assert.ok(err instanceof ValidationError, String(err));
    return err.field;
  }
  assert.fail('expected a ValidationError');
}

describe('request validation', () => {
  const good = { name: 'web', resources: { cpus: 0.5, mem: 64 }, command: { value: 'echo hi' } };

  it('accepts a valid submission and returns it typed', () => {
    assert.equal(validateSubmission(good).resources.mem, 64);
  });

  it('names the field that is wrong', () => {
    assert.equal(fieldOf({ ...good, name: undefined }), 'name');
    assert.equal(fieldOf({ ...good, resources: { cpus: 1 } }), 'resources.mem');
    assert.equal(fieldOf({ ...good, resources: { cpus: 'two', mem: 64 } }), 'resources.cpus');
    assert.equal(fieldOf({ ...good, resources: { cpus: 1, mem: -1 } }), 'resources.mem');
    assert.equal(fieldOf({ ...good, resources: { cpus: 1e9, mem: 64 } }), 'resources.cpus');
    assert.equal(fieldOf({ ...good, colour: 'red' }), 'colour');
    assert.equal(fieldOf({ ...good, container: { type: 'DOCKER' } }), 'container.docker');
    assert.equal(fieldOf({ ...good, container: { type: 'DOCKER', docker: { image: 'Bad Image' } } }), 'container.docker.image');
    assert.equal(fieldOf({ ...good, command: { value: 'x', environment: { variables: [{ name: '1A', value: '' }] } } }),
      'command.environment.variables.0.name');
  });
});
