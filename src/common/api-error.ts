import { HttpException } from '@nestjs/common';

/** One problem with a request: which field and which rule. */
export interface ErrorDetail {
  code: string;
  message: string;
  /** JSON path of the offending field, e.g. "testDrive.regions[0].hot". */
  target?: string;
}

/**
 * An error the API returns on purpose. Body (same shape as Azure's):
 * `{ "error": { "code", "message", "target"?, "details"?: ErrorDetail[] } }`.
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
        : `The request has ${details.length} problems: ${details.slice(0, 10).map((d) => d.target ?? d.code).join(', ')}${details.length > 10 ? ', …' : ''}.`;
    return new ApiError(400, 'ValidationFailed', message, first?.target, details);
  }

  static notFound(what: string, id: string): ApiError {
    return new ApiError(404, `${what}NotFound`, `${what} '${id}' was not found.`);
  }

  static conflict(code: string, message: string, target?: string): ApiError {
    return new ApiError(409, code, message, target);
  }
}
