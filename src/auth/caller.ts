import { Role, isRole } from './roles';

/**
 * Who is calling, from a validated access token: tenant (`tid`), client (`azp` in v2 tokens, `appid`
 * in v1), service principal object id (`oid`) and the service's app roles it holds (`roles`; other
 * values are ignored). A publisher is identified by tenant + client. `Caller.system` is the service
 * itself (reconcile loop, expiry) and is never derived from a token.
 */
export class Caller {
  private readonly roleSet: ReadonlySet<Role>;

  constructor(
    /** Entra tenant id (lower-case GUID), or "system". */
    readonly tenantId: string,
    /** Application (client) id of the caller, or "system". */
    readonly clientId: string,
    /** Object id of the caller's service principal (`oid`), when the token had one. */
    readonly objectId: string | undefined,
    roles: readonly string[],
    /** True only for Caller.system. */
    readonly isSystem = false,
    /** App roles the token held but that are not honoured for this tenant / client (role-trust.ts). */
    readonly refusedRoles: readonly Role[] = [],
  ) {
    this.roleSet = new Set(roles.filter(isRole));
  }

  /** The service itself (background work): unrestricted, audited as actor "system". */
  static readonly system = new Caller('system', 'system', undefined, [], true);

  /** App roles held (service roles only), sorted. */
  get roles(): Role[] {
    return [...this.roleSet].sort();
  }

  /** Whether the caller holds `role`. */
  has(role: Role): boolean {
    return this.roleSet.has(role);
  }

  get isMarketplace(): boolean {
    return this.has(Role.Marketplace);
  }

  get isPublisher(): boolean {
    return this.has(Role.Publisher);
  }

  get isOperator(): boolean {
    return this.has(Role.Operator);
  }

  /** "tenantId/clientId": the rate-limit key and the audit actor id. */
  get id(): string {
    return `${this.tenantId}/${this.clientId}`;
  }
}
