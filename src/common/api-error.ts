import { HttpException } from '@nestjs/common';
import { z } from 'zod';

/** One problem with a request: which field and which rule (an item of `error.details`). */
export const errorDetailSchema = z
  .object({
    code: z.string().meta({ description: 'What is wrong, e.g. InvalidField, UnknownField, DuplicateRegion.', example: 'InvalidField' }),
    message: z.string().meta({ description: 'The rule, in words.', example: 'hot must be at most 99 (Partner Center limit per region)' }),
    target: z.string().optional().meta({ description: 'JSON path of the offending field (or header / parameter name).', example: 'testDrive.regions[0].hot' }),
  })
  .meta({ description: 'One problem: which field and which rule.' });

/** One problem with a request: which field and which rule. `target` is the JSON path of the offending field, e.g. "testDrive.regions[0].hot". */
export type ErrorDetail = z.infer<typeof errorDetailSchema>;

/** The body of every refusal (same shape as Azure's): `{ error: { code, message, target?, details? } }`. */
export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.string().meta({
        description:
          'ValidationFailed, InvalidJson, InvalidHeader, AuthenticationRequired, InvalidToken, TokenExpired, Forbidden, OfferNotFound, SessionNotFound, ' +
          'PackageNotFound, NoCapacity, OfferNotPublished, RequestInProgress, OfferChanged, PreconditionFailed, PayloadTooLarge, UnsupportedMediaType, ' +
          'IdempotencyKeyReused, TooManyRequests, DependencyUnavailable, ... (each operation lists its own).',
        example: 'ValidationFailed',
      }),
      message: z.string().meta({ description: 'What happened, in words (never a secret).', example: 'testDrive.regions[0].hot: hot must be at most 99 (Partner Center limit per region)' }),
      target: z.string().optional().meta({ description: 'The field, header or parameter concerned (JSON path).', example: 'testDrive.regions[0].hot' }),
      details: z.array(errorDetailSchema).optional().meta({ description: 'Each problem (ValidationFailed: every field and rule, at most 20).' }),
    }),
  })
  .meta({
    description: 'An error: code, message, and for validation each field and rule.',
    example: {
      error: {
        code: 'ValidationFailed',
        message: 'testDrive.regions[0].hot: hot must be at most 99 (Partner Center limit per region)',
        target: 'testDrive.regions[0].hot',
        details: [{ code: 'InvalidField', target: 'testDrive.regions[0].hot', message: 'hot must be at most 99 (Partner Center limit per region)' }],
      },
    },
  });

/**
 * An error the API returns on purpose. Body (same shape as Azure's):
 * `{ "error": { "code", "message", "target"?, "details"?: ErrorDetail[] } }`; `message` is that message
 * too (code that rewords a refusal, e.g. NoCapacity's estimated wait, builds on it).
 */
export class ApiError extends HttpException {
  constructor(
    status: number,
    public readonly code: string,
    message: string,
    public readonly target?: string,
    public readonly details?: ErrorDetail[],
    public readonly headers?: Record<string, string>,
  ) {
    super({ error: { code, message, ...(target ? { target } : {}), ...(details?.length ? { details } : {}) } }, status);
    // HttpException makes `message` its class name in words ("Api Error") when the response is an object.
    this.message = message;
  }

  /** 400 for a request whose fields break rules; `details` lists each field and rule. */
  static validation(details: ErrorDetail[]): ApiError {
    // Bounded report (issue 8): at most 20 problems, the last saying how many more there were.
    if (details.length > 20) {
      const more = details.length - 19;
      details = [...details.slice(0, 19), { code: 'MoreProblems', message: `${more} more problems are not listed; fix the ones above first.` }];
    }
    const first = details[0];
    const message =
      details.length === 1
        ? `${first.target ? `${first.target}: ` : ''}${first.message}`
        : `The request has ${details.length} problems: ${details.slice(0, 10).map(summaryName).join(', ')}${details.length > 10 ? ', …' : ''}.`;
    return new ApiError(400, 'ValidationFailed', message, first?.target, details);
  }

  /**
   * 404 `<what>NotFound`. The id is echoed as given up to 128 characters; a longer one is cut to its first
   * 64 and its length (a 3,000-character path segment gave a 3 KB message).
   */
  static notFound(what: string, id: string): ApiError {
    const shown = id.length > 128 ? `${id.slice(0, 64)}…' (${id.length} characters)` : `${id}'`;
    return new ApiError(404, `${what}NotFound`, `${what} '${shown} was not found.`);
  }

  static conflict(code: string, message: string, target?: string): ApiError {
    return new ApiError(409, code, message, target);
  }
}

/**
 * How one problem is named in a report's summary: its field, or for unknown fields without one field to
 * name, the words of its message ("unknown fields 'a', 'b'"), never a code shown as if it were a field.
 */
function summaryName(d: ErrorDetail): string {
  if (d.target) return d.target;
  if (d.code === 'UnknownField') return d.message.replace(/^Unknown/, 'unknown').replace(/: not part of this request\.$/, '');
  return d.code;
}
