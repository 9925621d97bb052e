import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiParam, ApiQuery, ApiResponse } from '@nestjs/swagger';
import type { HeadersObject, OpenAPIObject, SchemaObject } from '@nestjs/swagger';
import { z } from 'zod';
import { errorBodySchema } from './api-error';

/**
 * OpenAPI from the zod schemas that validate (issue 9): request bodies, responses and parameters are
 * documented by the same zod schemas the service parses with, turned into OpenAPI 3.0 schema objects
 * by zod's own `z.toJSONSchema(…, { target: 'openapi-3.0' })`. A schema becomes a named component
 * (`#/components/schemas/<name>`) with apiComponent(); controllers point at components with
 * ApiZodBody / ApiZodResponse / ApiErrorResponse; configureApp (src/bootstrap.ts) adds the components
 * to the document Nest builds (withZodComponents), together with those that only exist once the test
 * drive types are registered (the PUT /offers body, the offer view: src/offers/offer.dto.ts).
 *
 * Components are generated with `io: 'input'`: request schemas describe what is accepted (before
 * transforms such as trimming or sanitising); the response views are plain data (no transform, no
 * default), so their input and output schemas are the same, and the type configurations they embed are
 * stored normalised, which the same schema accepts.
 */

/** Where components live in the document. */
export const COMPONENTS_PATH = '#/components/schemas/';

/** Options every schema generation uses. */
const JSON_SCHEMA_OPTIONS = { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' } as const;

/** Components named at import time: name -> zod schema. */
const catalogue = new Map<string, z.ZodType>();

/**
 * Names `schema` as the OpenAPI component `name` and returns it unchanged (still the schema to parse
 * with). A schema nested in another component is referenced by `$ref` rather than repeated.
 * @throws Error when `name` already names another schema.
 */
export function apiComponent<T extends z.ZodType>(name: string, schema: T): T {
  const known = catalogue.get(name);
  if (known && known !== schema) throw new Error(`OpenAPI component '${name}' is defined twice`);
  catalogue.set(name, schema);
  return schema;
}

/** The components named with apiComponent so far (name -> zod schema). */
export function namedApiComponents(): Record<string, z.ZodType> {
  return Object.fromEntries(catalogue);
}

/** The component name of `schema` (given to apiComponent), or undefined. */
export function componentNameOf(schema: z.ZodType): string | undefined {
  for (const [name, s] of catalogue) if (s === schema) return name;
  return undefined;
}

/**
 * A component in a decorator: a schema named with apiComponent, or the name of a component that is
 * built with the document (e.g. 'PutOfferBody', 'OfferView': they depend on the registered types).
 */
export type ApiSchemaRef = z.ZodType | string;

/** `{ $ref }` to a component. @throws Error for a schema that was not named with apiComponent. */
export function schemaRef(ref: ApiSchemaRef): { $ref: string } {
  const name = typeof ref === 'string' ? ref : componentNameOf(ref);
  if (!name) throw new Error('This zod schema is not an OpenAPI component: name it with apiComponent(name, schema) first');
  return { $ref: `${COMPONENTS_PATH}${name}` };
}

/** The OpenAPI 3.0 schema object of one zod schema, inline (for parameters and headers). */
export function jsonSchemaOf(schema: z.ZodType): SchemaObject {
  const { $schema: _s, $id: _i, ...out } = z.toJSONSchema(schema, JSON_SCHEMA_OPTIONS) as Record<string, unknown>;
  void _s;
  void _i;
  return out;
}

/** One named example of a request or response body (OpenAPI Example Object). */
export interface ApiExample {
  summary?: string;
  value: unknown;
}

/**
 * Documents the JSON request body as the component `schema`.
 * `examples` are shown in the UI and must parse with the schema (test/api/openapi.e2e-spec.ts).
 */
export function ApiZodBody(schema: ApiSchemaRef, opts: { description?: string; required?: boolean; examples?: Record<string, ApiExample> } = {}): MethodDecorator {
  return ApiBody({ schema: schemaRef(schema), description: opts.description, required: opts.required ?? true, ...(opts.examples ? { examples: opts.examples } : {}) });
}

/**
 * Documents one response: `status`, its JSON body (the component `schema`; null for a response without
 * a body such as 204) and what it means. `headers` are response headers (ETag, Location, Retry-After).
 */
export function ApiZodResponse(status: number, schema: ApiSchemaRef | null, description: string, opts: { headers?: HeadersObject } = {}): MethodDecorator & ClassDecorator {
  return ApiResponse({ status, description, ...(schema ? { schema: schemaRef(schema) } : {}), ...(opts.headers ? { headers: opts.headers } : {}) });
}

/** The error body every refusal has: `{ error: { code, message, target?, details? } }`. */
export const ErrorBodySchema = apiComponent('ErrorBody', errorBodySchema);

/** Retry-After header of a refusal that may succeed later (seconds). */
export const RETRY_AFTER_HEADER: HeadersObject = { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } } };

/**
 * Documents an error response: `status` with the error body; `description` names the error codes and
 * when they happen.
 */
export function ApiErrorResponse(status: number, description: string, opts: { headers?: HeadersObject } = {}): MethodDecorator & ClassDecorator {
  return ApiZodResponse(status, ErrorBodySchema, description, opts);
}

/** Documents the refusals of a JSON request body (src/common/body-policy.ts): 413 above the JSON limit, 415 not JSON. */
export function ApiJsonBodyErrors(): MethodDecorator {
  return applyDecorators(
    ApiErrorResponse(413, 'PayloadTooLarge: the body is larger than the JSON limit (1 MiB).'),
    ApiErrorResponse(415, 'UnsupportedMediaType: send Content-Type: application/json; UnsupportedEncoding: an unsupported charset or content encoding.'),
  );
}

/**
 * Documents a 503 with Retry-After: `causes` (the operation's own error codes and when), then the one every
 * authenticated operation has (AuthenticationUnavailable).
 */
export function ApiUnavailableResponse(causes: string): MethodDecorator & ClassDecorator {
  return ApiErrorResponse(503, `${causes}; AuthenticationUnavailable: tokens cannot be validated right now. Retry after Retry-After seconds.`, { headers: RETRY_AFTER_HEADER });
}

/** Documents each field of a zod object schema as a query parameter (name, required, schema, description). */
export function ApiZodQuery(schema: z.ZodObject): MethodDecorator {
  return applyDecorators(
    ...Object.entries(schema.shape).map(([name, field]) => {
      const f = field as z.ZodType;
      const { description, ...fieldSchema } = jsonSchemaOf(f) as SchemaObject & { description?: string };
      return ApiQuery({ name, required: !f.safeParse(undefined).success, schema: fieldSchema, ...(description ? { description } : {}) });
    }),
  );
}

/** Documents a path parameter with the zod schema that describes it (description and example from its meta). */
export function ApiZodParam(name: string, schema: z.ZodType): MethodDecorator {
  const { description, example, ...paramSchema } = jsonSchemaOf(schema) as Omit<SchemaObject, 'description' | 'example'> & { description?: string; example?: unknown };
  return ApiParam({ name, required: true, schema: paramSchema, ...(description ? { description } : {}), ...(example !== undefined ? { example } : {}) });
}

/**
 * The OpenAPI schema objects of `components` (name -> zod schema), generated together so that a
 * component used inside another is a `$ref` to it.
 * @throws Error when one zod schema is given under two names, or a schema cannot be represented.
 */
export function zodComponentSchemas(components: Record<string, z.ZodType>): Record<string, SchemaObject> {
  const registry = z.registry<{ id: string }>();
  const seen = new Map<z.ZodType, string>();
  for (const [id, schema] of Object.entries(components)) {
    const other = seen.get(schema);
    if (other) throw new Error(`OpenAPI components '${other}' and '${id}' are the same zod schema`);
    seen.set(schema, id);
    registry.add(schema, { id });
  }
  const { schemas } = z.toJSONSchema(registry, { ...JSON_SCHEMA_OPTIONS, uri: (id) => `${COMPONENTS_PATH}${id}` });
  const out: Record<string, SchemaObject> = {};
  for (const [id, s] of Object.entries(schemas)) {
    const { $id: _i, $schema: _s, ...rest } = s as Record<string, unknown>;
    void _i;
    void _s;
    out[id] = rest;
  }
  return out;
}

/**
 * Adds the zod components to a document Nest built: the ones named with apiComponent plus `extra`
 * (built with the document), as `components.schemas`. A body whose component is a `oneOf` of
 * components with examples (the PUT /offers body: one per test drive type) gets one named example per
 * variant. Returns the document.
 * @throws Error when a name is taken twice or a `$ref` in the document names no component (a route
 *   would be documented with a missing schema).
 */
export function withZodComponents(document: OpenAPIObject, extra: Record<string, z.ZodType> = {}): OpenAPIObject {
  const all = { ...namedApiComponents() };
  for (const [name, schema] of Object.entries(extra)) {
    if (all[name] && all[name] !== schema) throw new Error(`OpenAPI component '${name}' is defined twice`);
    all[name] = schema;
  }
  const generated = zodComponentSchemas(all);
  const schemas = (document.components ??= {}).schemas ?? {};
  for (const name of Object.keys(generated)) {
    if (schemas[name]) throw new Error(`OpenAPI component '${name}' is defined by a class and by a zod schema`);
  }
  document.components.schemas = { ...schemas, ...generated };
  const missing = [...new Set(refsIn(document))].filter((ref) => !ref.startsWith(COMPONENTS_PATH) || !document.components!.schemas![ref.slice(COMPONENTS_PATH.length)]);
  if (missing.length) throw new Error(`The OpenAPI document refers to missing components: ${missing.join(', ')}`);
  addVariantExamples(document);
  return document;
}

/** Every `$ref` string in `node`. */
function refsIn(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refsIn(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else if (k !== 'example' && k !== 'examples') refsIn(v, out);
    }
  }
  return out;
}

/** Request bodies of a `oneOf` component: one named example per variant that has one (the UI offers them in a list). */
function addVariantExamples(document: OpenAPIObject): void {
  const schemas = document.components?.schemas ?? {};
  for (const item of Object.values(document.paths ?? {})) {
    for (const op of Object.values(item ?? {})) {
      const content = (op as { requestBody?: { content?: Record<string, { schema?: { $ref?: string }; examples?: Record<string, ApiExample> }> } })?.requestBody?.content;
      for (const media of Object.values(content ?? {})) {
        const ref = media.schema?.$ref;
        const target = ref ? (schemas[ref.slice(COMPONENTS_PATH.length)] as SchemaObject | undefined) : undefined;
        if (!target?.oneOf || media.examples) continue;
        const examples: Record<string, ApiExample> = {};
        for (const variant of target.oneOf) {
          const name = (variant as { $ref?: string }).$ref?.slice(COMPONENTS_PATH.length);
          const v = name ? (schemas[name] as SchemaObject | undefined) : undefined;
          if (name && v?.example !== undefined) examples[name] = { summary: v.description?.split('.')[0] ?? name, value: v.example };
        }
        if (Object.keys(examples).length) media.examples = examples;
      }
    }
  }
}
