/**
 * The contract between this service and a publisher's Logic Apps (ours: the public material does not
 * publish one; docs/logic-app-contract.md documents it with examples). Pure functions: payloads the
 * service sends, and how answers become session outputs.
 */
import type { Customer, EndReason } from '../../src/sessions/session.entity';

/** Body POSTed to the provisioning Logic App's Request trigger. */
export interface ProvisionRequest {
  /** Session id (GUID); the same on a retried call, so the Logic App can be idempotent on it. */
  sessionId: string;
  offerId: string;
  /** The lead: contact details the customer agreed to share (company/country null when not given). */
  customer: { firstName: string; lastName: string; email: string; company: string | null; country: string | null };
  /** Whole hours the test drive lasts once ready. */
  durationHours: number;
  /** ISO 8601 UTC: when the session will end if it becomes ready now (its real expiry counts from ready). */
  expiresAt: string;
}

/** Why a session ends, as the deprovisioning Logic App sees it. */
export type DeprovisionReason = 'expired' | 'ended' | 'failed';

/** Body POSTed to the deprovisioning Logic App's Request trigger. */
export interface DeprovisionRequest {
  sessionId: string;
  offerId: string;
  /** The outputs provisioning answered (all strings; `{}` when provisioning failed before answering). */
  outputs: Record<string, string>;
  reason: DeprovisionReason;
}

/** Ours: an answer may carry at most this many outputs ... */
export const MAX_OUTPUTS = 50;
/** ... with names of at most this many characters ... */
export const MAX_OUTPUT_NAME_CHARS = 100;
/** ... and at most this many characters in all values together (they are shown in the access information). */
export const MAX_OUTPUT_TOTAL_CHARS = 32_000;

/** Builds the provisioning request. `hourMs` = one test drive hour in ms; `now` epoch ms. */
export function provisionRequest(s: { id: string; offerId: string; customer: Customer; durationHours: number }, now: number, hourMs: number): ProvisionRequest {
  return {
    sessionId: s.id,
    offerId: s.offerId,
    customer: {
      firstName: s.customer.firstName,
      lastName: s.customer.lastName,
      email: s.customer.email,
      company: s.customer.company ?? null,
      country: s.customer.country ?? null,
    },
    durationHours: s.durationHours,
    expiresAt: new Date(now + s.durationHours * hourMs).toISOString(),
  };
}

/** Session end reason -> contract reason (`unpublished` and early ends are `ended`). */
export function deprovisionReason(endReason: EndReason | null): DeprovisionReason {
  return endReason === 'expired' ? 'expired' : endReason === 'failed' ? 'failed' : 'ended';
}

/** Builds the deprovisioning request. */
export function deprovisionRequest(s: { id: string; offerId: string; endReason: EndReason | null }, outputs: Record<string, string>): DeprovisionRequest {
  return { sessionId: s.id, offerId: s.offerId, outputs, reason: deprovisionReason(s.endReason) };
}

/**
 * The provisioning answer's JSON object -> session outputs: every value a string (strings as they
 * are, null as "", numbers/booleans/objects/arrays as JSON), like ARM outputs (test drive rules).
 * An empty answer (null, "") gives no outputs.
 * @returns the outputs, or `{error}` naming what breaks the contract (not an object, too many or too
 *   long outputs).
 */
export function answerToOutputs(body: unknown): { outputs: Record<string, string> } | { error: string } {
  if (body === null || body === undefined || body === '') return { outputs: {} };
  if (typeof body !== 'object' || Array.isArray(body)) {
    return { error: `The provisioning Logic App must answer a JSON object whose values become the session's outputs; it answered ${Array.isArray(body) ? 'an array' : `a ${typeof body}`}.` };
  }
  const entries = Object.entries(body as Record<string, unknown>);
  if (entries.length > MAX_OUTPUTS) return { error: `The provisioning Logic App answered ${entries.length} outputs; at most ${MAX_OUTPUTS} are allowed.` };
  const outputs: Record<string, string> = {};
  let total = 0;
  for (const [k, v] of entries) {
    if (!k || k.length > MAX_OUTPUT_NAME_CHARS) return { error: `Output names must be 1-${MAX_OUTPUT_NAME_CHARS} characters ('${k.slice(0, 40)}…' is not).` };
    const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v);
    total += s.length;
    outputs[k] = s;
  }
  if (total > MAX_OUTPUT_TOTAL_CHARS) return { error: `The provisioning Logic App's outputs are ${total} characters long; at most ${MAX_OUTPUT_TOTAL_CHARS} are allowed.` };
  return { outputs };
}

/**
 * Workflow run outputs (`{name: {type, value}}`, the definition's `outputs` section) -> the plain
 * object answerToOutputs() takes. Used when provisioning answers without a body (no Response action).
 */
export function runOutputsToAnswer(outputs: Record<string, { value?: unknown }> | undefined | null): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(outputs ?? {})) out[k] = v && typeof v === 'object' && 'value' in v ? v.value : v;
  return out;
}

/** A customer-readable reason from a Logic App error answer body (`{error: {code, message}}` or text), at most 500 characters. */
export function errorFromAnswer(status: number, body: unknown): { code: string; message: string } {
  const e = body && typeof body === 'object' ? ((body as { error?: unknown }).error ?? body) : undefined;
  const code = e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : `Http${status}`;
  const msg =
    e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string'
      ? (e as { message: string }).message
      : typeof body === 'string' && body
        ? body
        : `HTTP ${status}`;
  return { code: code.slice(0, 100), message: msg.slice(0, 500) };
}

/** Logic Apps run states that are final (Azure: Succeeded, Failed, Cancelled, TimedOut, Aborted, Skipped...). */
export function isTerminalRunStatus(status: string | undefined): boolean {
  return !!status && !['running', 'waiting', 'paused', 'notspecified', 'suspended'].includes(status.toLowerCase());
}
