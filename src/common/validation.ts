import { z } from 'zod';
import { ApiError, ErrorDetail } from './api-error';

/** "testDrive.regions[0].hot" from a zod issue path, prefixed with `prefix` when given. */
export function jsonPath(path: ReadonlyArray<PropertyKey>, prefix?: string): string {
  let out = prefix ?? '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** A validation report lists at most this many problems (issue 8: a 5 MB body gave a 56 MB report). */
export const MAX_REPORTED_ISSUES = 20;
/** Unknown field names quoted in one problem at most. */
const MAX_NAMED_KEYS = 5;

/**
 * A field name from the request, safe to name in an error: printable ASCII of at most 64 characters;
 * anything else is not echoed (undefined).
 */
export function echoableName(name: PropertyKey): string | undefined {
  const s = String(name);
  return /^[\x20-\x7e]{1,64}$/.test(s) ? s : undefined;
}

/**
 * A JSON path that names only echoable segments: a segment that is not (see echoableName) ends the
 * path with "…", so a hostile key never travels back in the report. At most 16 segments.
 */
export function safePath(path: ReadonlyArray<PropertyKey>, prefix?: string): string {
  const out: PropertyKey[] = [];
  for (const p of path) {
    if (typeof p === 'number' || echoableName(p) !== undefined) out.push(p);
    else {
      out.push('…');
      break;
    }
  }
  return jsonPath(out.slice(0, 16), prefix);
}

/**
 * zod issues -> ErrorDetail[] naming the field (JSON path) and the rule. Bounded: at most
 * MAX_REPORTED_ISSUES problems (a last one says how many more there were), unknown field names quoted
 * only when short and printable, never a value from the request.
 */
export function zodIssuesToDetails(issues: z.core.$ZodIssue[], prefix?: string): ErrorDetail[] {
  const shown = issues.length > MAX_REPORTED_ISSUES ? issues.slice(0, MAX_REPORTED_ISSUES - 1) : issues;
  const details = shown.map((i): ErrorDetail => {
    // A problem with the whole input (a JSON array or a string where an object belongs) names the body.
    const target = safePath(i.path, prefix) || prefix || (i.code === 'unrecognized_keys' ? undefined : 'body');
    let message = i.message;
    if (i.code === 'unrecognized_keys') {
      const keys = (i as { keys?: string[] }).keys ?? [];
      const named = keys.slice(0, MAX_NAMED_KEYS).map(echoableName).filter((k): k is string => k !== undefined);
      const rest = keys.length - named.length;
      const list = [...named.map((k) => `'${k}'`), ...(rest > 0 ? [`${rest} other${rest > 1 ? 's' : ''}`] : [])].join(', ');
      return {
        code: 'UnknownField',
        target: keys.length === 1 && named.length === 1 ? safePath([...i.path, keys[0]], prefix) : target,
        message: `Unknown field${keys.length > 1 ? 's' : ''} ${list}: not part of this request.`,
      };
    }
    if (i.code === 'invalid_type' && /received undefined/.test(message)) message = 'Required.';
    if (message.length > 500) message = `${message.slice(0, 500)}…`;
    return { code: 'InvalidField', target, message };
  });
  if (issues.length > shown.length) {
    details.push({ code: 'MoreProblems', message: `${issues.length - shown.length} more problems are not listed; fix the ones above first.` });
  }
  return details;
}

/**
 * Parses `input` with a zod schema. Returns the typed value.
 * @throws ApiError 400 ValidationFailed listing each field and rule.
 */
export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, prefix?: string): z.infer<T> {
  const r = schema.safeParse(input);
  if (!r.success) throw ApiError.validation(zodIssuesToDetails(r.error.issues, prefix));
  return r.data;
}

/**
 * Parses a request's query (Express's simple query parser: a repeated parameter is an array of strings)
 * with a zod schema of single-valued parameters. A parameter given more than once is refused as such
 * ("limit must be given once, as one value"), not as a wrong type of the one value it was meant to be.
 * @throws ApiError 400 ValidationFailed naming each parameter and rule.
 */
export function parseQueryOrThrow<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const q = (query ?? {}) as Record<string, unknown>;
  const repeated = Object.keys(q).filter((k) => typeof q[k] !== 'string');
  if (repeated.length) {
    throw ApiError.validation(
      repeated.slice(0, MAX_REPORTED_ISSUES).map((k) => {
        const name = echoableName(k);
        return { code: 'InvalidField', target: name, message: `${name ?? 'A query parameter'} must be given once, as one value.` };
      }),
    );
  }
  return parseOrThrow(schema, q);
}

/**
 * The `limit` query parameter of a list: a whole number from 1 to `max`, `def` when absent; each rule
 * named in its message ("limit must be at most 500").
 */
export function pageLimitSchema(max: number, def: number, what: string) {
  return z.coerce
    .number({ message: 'limit must be a number' })
    .int('limit must be a whole number')
    .min(1, 'limit must be at least 1')
    .max(max, `limit must be at most ${max}`)
    .default(def)
    .meta({ description: `${what} per page, 1-${max} (default ${def}).`, example: def });
}

/** Like parseOrThrow but returns problems instead of throwing. */
export function parseOrDetails<T extends z.ZodType>(schema: T, input: unknown, prefix?: string): { value?: z.infer<T>; problems: ErrorDetail[] } {
  const r = schema.safeParse(input);
  return r.success ? { value: r.data, problems: [] } : { problems: zodIssuesToDetails(r.error.issues, prefix) };
}

/** Partner Center: whole hours only, minimum 1 ("2" is valid, "1.5" is not). Max 99 is ours. */
export const durationHoursSchema = z
  .number({ message: 'durationHours must be a number of whole hours' })
  .int('durationHours must be a whole number of hours (Partner Center: "1.5" is not valid)')
  .min(1, 'durationHours must be at least 1 hour')
  .max(99, 'durationHours must be at most 99 hours');

/** GUID in canonical 8-4-4-4-12 hex form. */
export const guidSchema = (what: string) =>
  z.string({ message: `${what} must be a GUID` }).regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, `${what} must be a GUID (8-4-4-4-12 hex digits)`);

/**
 * An absolute https URL of at most 2,048 characters (webhooks, callbacks; the outbound URL rule checks the
 * host when it is used). Messages start with `label` when given ("url must be an https URL").
 */
export function httpsUrlSchema(label?: string): z.ZodString {
  const must = label ? `${label} must` : 'must';
  return z
    .string({ message: `${must} be an https URL` })
    .max(2048, `${must} be at most 2,048 characters`)
    .refine((v) => URL.canParse(v) && new URL(v).protocol === 'https:', `${must} be an absolute https URL`);
}
