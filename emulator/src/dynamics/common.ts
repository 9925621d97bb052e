import type { Ctx } from '../http';
import { send, sleep } from '../http';
import type { EmulatorState, StateStore } from '../state';
import type { FaultStore } from '../faults';
import type { AccessTokenClaims, SigningKeys } from '../entra';
import { ODataFilterError, applySelect, evalFilter, parseFilter } from '../graph/odata';
import type { DynamicsEnvironment } from './model';

/** Dependencies of the Dynamics handlers. */
export interface DynamicsDeps {
  state: EmulatorState;
  store: StateStore;
  keys: SigningKeys;
  faults: FaultStore;
  log: (msg: string, extra?: object) => void;
}

/** An authenticated request to one environment's API. */
export interface EnvRequest {
  ctx: Ctx;
  deps: DynamicsDeps;
  env: DynamicsEnvironment;
  claims: AccessTokenClaims;
  /** Segments after the API root (e.g. ["systemusers(…)", "systemuserroles_association", "$ref"]). */
  rest: string[];
  /** API root URL ending in "/". */
  apiBase: string;
}

/** An error a Dynamics API answers with `{error: {code, message, innererror?}}` (OData v4 JSON error). */
export class ODataHttpError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string, public readonly headers: Record<string, string | number> = {}, public readonly innererror?: Record<string, unknown>) {
    super(message);
  }
}

/** Sends an OData error body `{error:{code, message[, innererror]}}` with `OData-Version: 4.0`. */
export function sendODataError(ctx: Ctx, e: ODataHttpError): void {
  const error: Record<string, unknown> = { code: e.code, message: e.message };
  if (e.innererror) error.innererror = e.innererror;
  send(ctx, e.status, { error }, { 'OData-Version': '4.0', ...e.headers });
}

/** One path segment like `systemusers(…)` split into name and raw key text. */
export interface Seg {
  name: string;
  key?: string;
}

/** Splits `name(key)` (key may be a GUID, a quoted string or `a='x',b='y'`). */
export function parseSeg(s: string): Seg {
  const m = /^([^()]+)(?:\((.*)\))?$/.exec(s);
  if (!m) return { name: s };
  return { name: m[1], key: m[2] };
}

/** Parses a composite key `A='x',B='y'` (or a single literal as `{'': value}`). Values are unquoted. */
export function parseKey(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*(?:([A-Za-z_]\w*)\s*=\s*)?('((?:[^']|'')*)'|[^,]+)\s*(?:,|$)/y;
  let m: RegExpExecArray | null;
  let pos = 0;
  while (pos < raw.length && (m = re.exec(raw))) {
    if (m[0] === '') break;
    out[(m[1] ?? '').toLowerCase()] = m[3] !== undefined ? m[3].replace(/''/g, "'") : m[2].trim();
    pos = re.lastIndex;
  }
  return out;
}

/** Consults the fault store; an injected status becomes an ODataHttpError with Retry-After for 429/503. */
export async function takeFault(deps: DynamicsDeps, op: string, toError: (status: number, retryAfter: number | undefined, code: string | undefined) => ODataHttpError): Promise<void> {
  const f = deps.faults.take(op);
  if (!f) return;
  if (f.latencyMs) await sleep(f.latencyMs);
  if (!f.status) return;
  const retryAfter = f.status === 429 || f.status === 503 || f.retryAfterSeconds !== undefined ? (f.retryAfterSeconds ?? 1) : undefined;
  throw toError(f.status, retryAfter, f.errorCode);
}

/**
 * Filters, orders by `key`, applies `$top` and `$select` to a list of records (OData query options).
 * `typeName` is used in the error for unknown properties (e.g. "Microsoft.Dynamics.CRM.systemuser").
 */
export function queryList(rows: Array<Record<string, unknown>>, q: URLSearchParams, known: string[], always: string[], err: (msg: string) => ODataHttpError, typeName: string): Array<Record<string, unknown>> {
  const knownLc = new Set(known.map((k) => k.toLowerCase()));
  const filter = q.get('$filter');
  let out = rows;
  if (filter) {
    try {
      const node = parseFilter(filter, (p) => knownLc.has(p.toLowerCase()));
      out = out.filter((r) => evalFilter(node, r));
    } catch (e) {
      if (e instanceof ODataFilterError) {
        const unknown = (e as { unknownProperty?: string }).unknownProperty;
        throw err(unknown ? `Could not find a property named '${unknown}' on type '${typeName}'.` : e.message);
      }
      throw e;
    }
  }
  const top = q.get('$top');
  if (top !== null) {
    const n = Number(top);
    if (!Number.isInteger(n) || n < 0) throw err(`Invalid value '${top.slice(0, 20)}' for $top query option found. The $top query option requires a non-negative integer value.`);
    out = out.slice(0, n);
  }
  const select = q.get('$select');
  return out.map((r) => applySelect(r, select, always, (name) => {
    throw err(`Could not find a property named '${name}' on type '${typeName}'.`);
  }));
}

/** `$select` on a single record. */
export function selectOne(rec: Record<string, unknown>, q: URLSearchParams, always: string[], err: (msg: string) => ODataHttpError, typeName: string): Record<string, unknown> {
  return applySelect(rec, q.get('$select'), always, (name) => {
    throw err(`Could not find a property named '${name}' on type '${typeName}'.`);
  });
}
