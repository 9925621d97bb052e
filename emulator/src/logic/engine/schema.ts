import { isObj } from './functions';

/**
 * A small JSON Schema (draft-04 subset) validator for Request trigger bodies when the trigger asks for
 * `operationOptions: EnableSchemaValidation`. Supports type (string or list; "integer" vs "number"),
 * properties, required, items, enum, minimum, maximum, minLength, maxLength. Returns problem strings
 * (empty = valid).
 */
export function validateSchema(value: unknown, schema: unknown, path = '#'): string[] {
  if (!isObj(schema)) return [];
  const problems: string[] = [];
  const types = schema.type === undefined ? [] : Array.isArray(schema.type) ? schema.type.map(String) : [String(schema.type)];
  if (types.length && !types.some((t) => matchesType(value, t))) {
    problems.push(`${path}: expected type '${types.join('|')}' but found '${actualType(value)}'`);
    return problems;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) problems.push(`${path}: value is not one of the allowed values`);
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) problems.push(`${path}: ${value} is less than the minimum ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && value > schema.maximum) problems.push(`${path}: ${value} is greater than the maximum ${schema.maximum}`);
  }
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && value.length < schema.minLength) problems.push(`${path}: string shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && value.length > schema.maxLength) problems.push(`${path}: string longer than ${schema.maxLength}`);
  }
  if (isObj(value)) {
    if (Array.isArray(schema.required)) for (const r of schema.required) if (!(String(r) in value)) problems.push(`${path}: required property '${String(r)}' is missing`);
    if (isObj(schema.properties)) for (const [k, s] of Object.entries(schema.properties)) if (k in value) problems.push(...validateSchema(value[k], s, `${path}/${k}`));
  }
  if (Array.isArray(value) && isObj(schema.items)) value.forEach((v, i) => problems.push(...validateSchema(v, schema.items, `${path}/${i}`)));
  return problems;
}

function actualType(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function matchesType(v: unknown, t: string): boolean {
  switch (t) {
    case 'null': return v === null || v === undefined;
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'number': return typeof v === 'number';
    case 'array': return Array.isArray(v);
    case 'object': return isObj(v);
    default: return typeof v === t;
  }
}
