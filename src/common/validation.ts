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

/** zod issues -> ErrorDetail[] naming the field (JSON path) and the rule. */
export function zodIssuesToDetails(issues: z.core.$ZodIssue[], prefix?: string): ErrorDetail[] {
  return issues.map((i) => {
    const target = jsonPath(i.path, prefix) || prefix || undefined;
    let message = i.message;
    if (i.code === 'unrecognized_keys') {
      const keys = (i as { keys?: string[] }).keys ?? [];
      return {
        code: 'UnknownField',
        target: keys.length === 1 ? jsonPath([...i.path, keys[0]], prefix) : target,
        message: `Unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `'${k}'`).join(', ')}: not part of this request.`,
      };
    }
    if (i.code === 'invalid_type' && /received undefined/.test(message)) message = 'Required.';
    return { code: 'InvalidField', target, message };
  });
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
