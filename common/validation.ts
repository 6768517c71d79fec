// One ajv instance; validators return typed values or throw a ValidationError naming the field.
import { Ajv, type ErrorObject, type JSONSchemaType, type ValidateFunction } from 'ajv';
import { ValidationError } from './errors.js';

const ajv = new Ajv({ allErrors: false, strict: false, coerceTypes: false, useDefaults: false });

export type Validator<T> = (value: unknown) => T;

/** Compiles `schema` once; the returned function checks a value and returns it typed, or throws. */
export function compileValidator<T>(schema: JSONSchemaType<T>, rootName = ''): Validator<T> {
  const validate: ValidateFunction<T> = ajv.compile(schema);
  return (value: unknown): T => {
    if (validate(value)) return value;
    const first = validate.errors?.[0];
    throw toValidationError(first, rootName);
  };
}

function toValidationError(error: ErrorObject | undefined, rootName: string): ValidationError {
  if (!error) return new ValidationError(rootName || undefined, 'invalid');
  const path = error.instancePath
    .split('/')
    .filter((part) => part !== '')
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'));
  let message = error.message ?? 'invalid';
  if (error.keyword === 'required') {
    path.push(String((error.params as { missingProperty: string }).missingProperty));
    message = 'is required';
  } else if (error.keyword === 'additionalProperties') {
    path.push(String((error.params as { additionalProperty: string }).additionalProperty));
    message = 'is not a known field';
  } else if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
    message = `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  const field = [rootName, ...path].filter((p) => p !== '').join('.');
  return new ValidationError(field || undefined, message);
}
