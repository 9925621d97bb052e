import { Role } from './roles';

/** Where one app role is honoured: tenants ('any' = every tenant) and, optionally, client ids. */
export interface RoleTrust {
  tenants: string[] | 'any';
  clientIds?: string[];
}

/** Trust rules of the roles that are not open to every tenant (Publisher is: publishers are isolated by tenant + client). */
export type TrustPolicy = Partial<Record<Role, RoleTrust>>;

/**
 * The trust policy from the settings (AUTH_OPERATOR_TENANTS, AUTH_OPERATOR_CLIENT_IDS,
 * AUTH_MARKETPLACE_TENANTS, AUTH_MARKETPLACE_CLIENT_IDS). A tenant list left unset means the service's
 * own tenant (`homeTenantId`: the tenant of its identity). Source: issue 8 — an app role is assigned by
 * the admins of the tenant that issued the token, so Operator or Marketplace from a tenant we do not
 * know proves nothing.
 */
export function trustPolicy(
  auth: { operatorTenants?: string[] | 'any'; operatorClientIds?: string[]; marketplaceTenants?: string[] | 'any'; marketplaceClientIds?: string[] },
  homeTenantId: string,
): TrustPolicy {
  const home = [homeTenantId.toLowerCase()];
  return {
    [Role.Operator]: { tenants: auth.operatorTenants ?? home, clientIds: auth.operatorClientIds },
    [Role.Marketplace]: { tenants: auth.marketplaceTenants ?? home, clientIds: auth.marketplaceClientIds },
  };
}

/**
 * Splits the roles a token holds into those honoured for caller `tenantId` / `clientId` (lower-case
 * GUIDs) and those refused by `policy`. Roles without a rule (Publisher, unknown values) are honoured.
 */
export function applyTrust(policy: TrustPolicy, tenantId: string, clientId: string, roles: readonly string[]): { honoured: string[]; refused: Role[] } {
  const honoured: string[] = [];
  const refused: Role[] = [];
  for (const r of roles) {
    const rule = policy[r as Role];
    if (!rule) {
      honoured.push(r);
      continue;
    }
    const tenantOk = rule.tenants === 'any' || rule.tenants.includes(tenantId);
    const clientOk = !rule.clientIds || rule.clientIds.includes(clientId);
    if (tenantOk && clientOk) honoured.push(r);
    else refused.push(r as Role);
  }
  return { honoured, refused };
}
