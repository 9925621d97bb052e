import type { Ctx } from '../http';
import { send } from '../http';
import type { ArmErrorInfo } from '../state';

/** Error carrying an HTTP status and an ARM error body; thrown by handlers, rendered by sendArmError. */
export class ArmHttpError extends Error {
  constructor(public readonly status: number, public readonly info: ArmErrorInfo, public readonly headers: Record<string, string | number> = {}) {
    super(info.message);
  }
}

/** Shorthand: new ArmHttpError(status, { code, message }). */
export function armError(status: number, code: string, message: string, extra: Partial<ArmErrorInfo> = {}, headers: Record<string, string | number> = {}): ArmHttpError {
  return new ArmHttpError(status, { code, message, ...extra }, headers);
}

/** Sends `{ error: { code, message, target?, details?, additionalInfo? } }` (ARM's error body). */
export function sendArmError(ctx: Ctx, e: ArmHttpError): void {
  send(ctx, e.status, { error: e.info }, { ...e.headers, 'x-ms-failure-cause': e.status >= 500 ? 'service' : 'gateway' });
}
