/**
 * Fault injection (PUT /_emulator/faults). A rule matches an operation name:
 * exactly ("resourceGroups.createOrUpdate"), by prefix wildcard ("keyvault.*", "resourceGroups.*"),
 * or "*" (every request operation; NOT the asynchronous executions "deployments.execute",
 * "virtualMachines.start.execute" and "virtualMachines.deallocate.execute", which are not requests).
 *
 * Operation names: token; resourceGroups.{createOrUpdate,get,checkExistence,update,list,delete};
 * operations.poll (polling of RG delete Location / deployment Azure-AsyncOperation / VM operation status);
 * deployments.{createOrUpdate,get,list,delete,cancel,execute}; resources.{get,list};
 * virtualMachines.{get,list,listAll,instanceView,start,deallocate} (requests) and
 * virtualMachines.{start,deallocate}.execute (the operation ends Failed: AllocationFailed / InternalExecutionError
 * or errorCode);
 * keyvault.{setSecret,getSecret,getSecretVersions,updateSecret,deleteSecret,getDeletedSecret,purgeDeletedSecret,recoverDeletedSecret,listSecrets,listDeletedSecrets};
 * publish preflight (issue 13): deployments.validate; roleAssignments.{list,get}; roleDefinitions.{list,get};
 * providers.{list,get,register,unregister}; usage.list (Compute usages); graph.applications.{list,get}.
 */
export interface FaultRule {
  operation: string;
  /** Probability 0..1 that a matching call fails (default 1). */
  failureRate?: number;
  /** HTTP status to answer (e.g. 429, 500, 503). Without it (and with latencyMs) the rule only adds latency. */
  status?: number;
  /** Retry-After header value in seconds (default 1 for 429/503). */
  retryAfterSeconds?: number;
  /** Extra delay in milliseconds before answering (applied whenever the rule fires). */
  latencyMs?: number;
  /** Fire this many times, then expire (default: unlimited). */
  count?: number;
  /** Error code in the body (default by status: TooManyRequests, InternalServerError, ServiceUnavailable...). */
  errorCode?: string;
}

/** A stored rule with bookkeeping. */
export interface ActiveFault extends FaultRule {
  id: number;
  /** How many times the rule fired. */
  applied: number;
}

/** Validates one rule from untrusted JSON; returns an error message or the rule. */
export function validateFaultRule(raw: unknown): FaultRule | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'each rule must be an object';
  const r = raw as Record<string, unknown>;
  if (typeof r.operation !== 'string' || !r.operation) return 'rule.operation must be a non-empty string';
  const num = (k: string, min: number, max: number): string | undefined =>
    r[k] === undefined ? undefined : typeof r[k] === 'number' && Number.isFinite(r[k]) && (r[k]) >= min && (r[k]) <= max ? undefined : `rule.${k} must be a number in [${min}, ${max}]`;
  const err = num('failureRate', 0, 1) ?? num('status', 100, 599) ?? num('retryAfterSeconds', 0, 3600) ?? num('latencyMs', 0, 600_000) ?? num('count', 0, 1e9);
  if (err) return err;
  if (r.errorCode !== undefined && typeof r.errorCode !== 'string') return 'rule.errorCode must be a string';
  return {
    operation: r.operation,
    failureRate: r.failureRate as number | undefined,
    status: r.status as number | undefined,
    retryAfterSeconds: r.retryAfterSeconds as number | undefined,
    latencyMs: r.latencyMs as number | undefined,
    count: r.count as number | undefined,
    errorCode: r.errorCode,
  };
}

/** Holds the active rules (in memory only; not persisted). */
export class FaultStore {
  private rules: ActiveFault[] = [];
  private nextId = 1;

  /** Replaces all rules. */
  set(rules: FaultRule[]): ActiveFault[] {
    this.rules = rules.map((r) => ({ ...r, id: this.nextId++, applied: 0 }));
    return this.list();
  }

  /** Current rules, including spent ones (applied >= count), so callers can see what fired. */
  list(): ActiveFault[] {
    return this.rules.map((r) => ({ ...r }));
  }

  /** Removes all rules. */
  clear(): void {
    this.rules = [];
  }

  /**
   * Picks the first matching rule that fires for `operation` (rolls failureRate, consumes count).
   * Returns undefined when no rule fires.
   */
  take(operation: string, random: () => number = Math.random): ActiveFault | undefined {
    for (const rule of this.rules) {
      if (!matches(rule.operation, operation)) continue;
      if (rule.count !== undefined && rule.applied >= rule.count) continue;
      if (random() >= (rule.failureRate ?? 1)) continue;
      rule.applied++;
      const fired = { ...rule };
      return fired;
    }
    return undefined;
  }
}

/** Fault points that are not requests (asynchronous executions): "*" does not match them. */
const NOT_REQUESTS = new Set(['deployments.execute', 'virtualmachines.start.execute', 'virtualmachines.deallocate.execute']);

function matches(pattern: string, op: string): boolean {
  if (pattern === '*') return !NOT_REQUESTS.has(op.toLowerCase());
  if (pattern.endsWith('.*')) return op.toLowerCase().startsWith(pattern.slice(0, -1).toLowerCase());
  return pattern.toLowerCase() === op.toLowerCase();
}

/** Default error code for an injected status. */
export function defaultFaultCode(status: number): string {
  switch (status) {
    case 429: return 'TooManyRequests';
    case 500: return 'InternalServerError';
    case 502: return 'BadGateway';
    case 503: return 'ServiceUnavailable';
    case 504: return 'GatewayTimeout';
    case 408: return 'RequestTimeout';
    case 409: return 'Conflict';
    case 401: return 'Unauthorized';
    case 403: return 'Forbidden';
    case 404: return 'NotFound';
    default: return status >= 500 ? 'InternalServerError' : 'BadRequest';
  }
}
