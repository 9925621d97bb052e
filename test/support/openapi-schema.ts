/**
 * A small validator of values against OpenAPI 3.0 schema objects, for the tests of the API description
 * (test/api/openapi.e2e-spec.ts). No JSON Schema validator is installed, and the project adds no
 * dependency for tests; this one covers the keywords zod's `openapi-3.0` output and @nestjs/swagger
 * use, and reports any other keyword as a problem rather than ignoring it (so a schema it cannot check
 * never passes silently).
 */

/** A schema object (or a `$ref` to one) as it appears in the document. */
export type Schema = Record<string, unknown>;

/** Keywords that carry no constraint. */
const ANNOTATIONS = new Set(['description', 'title', 'example', 'default', 'deprecated', 'readOnly', 'writeOnly', 'format', 'discriminator', 'externalDocs', 'xml']);
/** Keywords checked below. */
const CHECKED = new Set([
  '$ref',
  'type',
  'nullable',
  'enum',
  'pattern',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'properties',
  'required',
  'additionalProperties',
  'minProperties',
  'maxProperties',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
  'oneOf',
  'anyOf',
  'allOf',
  'not',
]);

/** The schema a `$ref` ("#/components/schemas/X") points to in `doc`. @throws Error when it points nowhere. */
export function resolveRef(doc: Record<string, unknown>, ref: string): Schema {
  if (!ref.startsWith('#/')) throw new Error(`external $ref ${ref}`);
  let node: unknown = doc;
  for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown> | undefined)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  if (!node || typeof node !== 'object') throw new Error(`$ref ${ref} points nowhere`);
  return node as Schema;
}

/**
 * Every way `value` breaks `schema` (empty when it conforms), each as "<path>: <rule>". `doc` resolves
 * `$ref`s.
 */
export function schemaProblems(value: unknown, schema: Schema, doc: Record<string, unknown>, path = '$'): string[] {
  if (typeof schema.$ref === 'string') return schemaProblems(value, resolveRef(doc, schema.$ref), doc, path);
  const out: string[] = [];
  for (const k of Object.keys(schema)) {
    if (!CHECKED.has(k) && !ANNOTATIONS.has(k) && !k.startsWith('x-')) out.push(`${path}: schema keyword '${k}' is not OpenAPI 3.0 (or not checked by this validator)`);
  }
  if (value === null) {
    if (schema.nullable === true) return out;
    if (schema.type !== undefined || schema.enum !== undefined) return [...out, `${path}: null is not allowed`];
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) out.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  const type = schema.type as string | undefined;
  if (type !== undefined && !hasType(value, type)) return [...out, `${path}: expected ${type}, got ${JSON.stringify(value)?.slice(0, 60)}`];
  if (typeof value === 'string') {
    if (typeof schema.minLength === 'number' && [...value].length < schema.minLength) out.push(`${path}: shorter than ${schema.minLength}`);
    if (typeof schema.maxLength === 'number' && [...value].length > schema.maxLength) out.push(`${path}: longer than ${schema.maxLength}`);
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern).test(value)) out.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  }
  if (typeof value === 'number') {
    const exMin = schema.exclusiveMinimum;
    const exMax = schema.exclusiveMaximum;
    if (typeof schema.minimum === 'number' && (exMin === true ? value <= schema.minimum : value < schema.minimum)) out.push(`${path}: below the minimum ${schema.minimum}`);
    if (typeof schema.maximum === 'number' && (exMax === true ? value >= schema.maximum : value > schema.maximum)) out.push(`${path}: above the maximum ${schema.maximum}`);
    if (typeof exMin === 'number' && value <= exMin) out.push(`${path}: not above ${exMin}`);
    if (typeof exMax === 'number' && value >= exMax) out.push(`${path}: not below ${exMax}`);
    if (typeof schema.multipleOf === 'number' && !Number.isInteger(value / schema.multipleOf)) out.push(`${path}: not a multiple of ${schema.multipleOf}`);
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) out.push(`${path}: fewer than ${schema.minItems} items`);
    if (typeof schema.maxItems === 'number' && value.length > schema.maxItems) out.push(`${path}: more than ${schema.maxItems} items`);
    if (schema.uniqueItems === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) out.push(`${path}: items are not unique`);
    if (schema.items && typeof schema.items === 'object') value.forEach((v, i) => out.push(...schemaProblems(v, schema.items as Schema, doc, `${path}[${i}]`)));
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const r of (schema.required as string[] | undefined) ?? []) if (!(r in obj)) out.push(`${path}: '${r}' is required`);
    const keys = Object.keys(obj);
    if (typeof schema.minProperties === 'number' && keys.length < schema.minProperties) out.push(`${path}: fewer than ${schema.minProperties} properties`);
    if (typeof schema.maxProperties === 'number' && keys.length > schema.maxProperties) out.push(`${path}: more than ${schema.maxProperties} properties`);
    for (const k of keys) {
      if (props[k]) out.push(...schemaProblems(obj[k], props[k], doc, `${path}.${k}`));
      else if (schema.additionalProperties === false) out.push(`${path}: unknown property '${k}'`);
      else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.push(...schemaProblems(obj[k], schema.additionalProperties as Schema, doc, `${path}.${k}`));
    }
  }
  if (Array.isArray(schema.allOf)) for (const s of schema.allOf as Schema[]) out.push(...schemaProblems(value, s, doc, path));
  if (Array.isArray(schema.anyOf) && !(schema.anyOf as Schema[]).some((s) => !schemaProblems(value, s, doc, path).length)) out.push(`${path}: matches none of anyOf`);
  if (Array.isArray(schema.oneOf)) {
    const results = (schema.oneOf as Schema[]).map((s) => schemaProblems(value, s, doc, path));
    const matches = results.filter((r) => !r.length).length;
    if (matches !== 1) out.push(`${path}: matches ${matches} of oneOf, not exactly one${matches ? '' : ` (closest: ${[...results].sort((a, b) => a.length - b.length)[0]?.slice(0, 3).join('; ')})`}`);
  }
  if (schema.not && typeof schema.not === 'object' && !schemaProblems(value, schema.not as Schema, doc, path).length) out.push(`${path}: matches 'not'`);
  return out;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return !!value && typeof value === 'object' && !Array.isArray(value);
    default:
      return false;
  }
}

/** One example found in the document, with the schema it must conform to. */
export interface FoundExample {
  /** Where it is ("paths./api/v1/offers/{offerId}.put.requestBody.content.application/json.examples.X"). */
  where: string;
  value: unknown;
  schema: Schema;
}

/**
 * Every `example` / `examples` in an OpenAPI 3.0 document: on schema objects (against the schema
 * itself), on media types, parameters and headers (against their `schema`; `examples` there is a map
 * of Example Objects). An `examples` array on a schema object (JSON Schema, not OpenAPI 3.0) is
 * returned too, each item against the schema, and the schema check reports the keyword.
 */
export function examplesIn(node: unknown, where = ''): FoundExample[] {
  const out: FoundExample[] = [];
  if (Array.isArray(node)) {
    node.forEach((n, i) => out.push(...examplesIn(n, `${where}[${i}]`)));
    return out;
  }
  if (!node || typeof node !== 'object') return out;
  const obj = node as Record<string, unknown>;
  const hasSchema = obj.schema && typeof obj.schema === 'object';
  const target = (hasSchema ? obj.schema : obj) as Schema;
  if ('example' in obj) out.push({ where: `${where}.example`, value: obj.example, schema: target });
  if (obj.examples && typeof obj.examples === 'object') {
    if (Array.isArray(obj.examples)) obj.examples.forEach((v, i) => out.push({ where: `${where}.examples[${i}]`, value: v, schema: target }));
    else for (const [k, ex] of Object.entries(obj.examples as Record<string, { value?: unknown }>)) out.push({ where: `${where}.examples.${k}`, value: ex?.value, schema: target });
  }
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'example' || k === 'examples') continue;
    if (k === 'properties' && v && typeof v === 'object') {
      for (const [p, s] of Object.entries(v as Record<string, unknown>)) out.push(...examplesIn(s, `${where}.properties.${p}`));
    } else out.push(...examplesIn(v, `${where}.${k}`));
  }
  return out;
}
