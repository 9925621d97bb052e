/**
 * A workflow-level error with the Logic Apps error shape `{ code, message }`.
 * Codes used by the emulator: `InvalidTemplate` (an expression cannot be evaluated — Logic Apps'
 * code for template language errors), `UnsupportedByEmulator` (an action type, trigger type or
 * function the local emulator does not implement), `ActionFailed`, `Terminated`, `ActionTimedOut`,
 * `ActionResponseTimedOut`, `IterationLimitExceeded`, `BadRequest`...
 */
export class WorkflowError extends Error {
  constructor(public readonly code: string, message: string) {
    super(message);
    this.name = 'WorkflowError';
  }

  /** `{ code, message }` as Logic Apps writes it into run/action `error`. */
  toJSON(): { code: string; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** Error for a feature the emulator does not implement; the message names the feature. */
export function unsupported(message: string): WorkflowError {
  return new WorkflowError('UnsupportedByEmulator', message);
}

/** Logic Apps' InvalidTemplate error for an expression that cannot be evaluated. */
export function invalidTemplate(message: string): WorkflowError {
  return new WorkflowError('InvalidTemplate', message);
}
