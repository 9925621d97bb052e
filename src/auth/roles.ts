/**
 * App roles of the service's app registration (Entra ID app roles, delivered in the access token's
 * `roles` claim). Source of the rules: issue 3 (security) and docs/security.md.
 * - Marketplace: starts, reads and ends sessions (and gets the customer's access information).
 * - Publisher: manages its own offers, packages and publishing; reads sessions and capacity of its own offers.
 * - Operator: reads everything (offers without secrets, sessions without access information, capacity,
 *   audit), ends any session and unpublishes any offer; nothing else.
 */
export const Role = {
  Marketplace: 'TestDrive.Marketplace',
  Publisher: 'TestDrive.Publisher',
  Operator: 'TestDrive.Operator',
} as const;

/** One app role value. */
export type Role = (typeof Role)[keyof typeof Role];

/** Every app role, in the order the emulator registers them. */
export const ALL_ROLES: readonly Role[] = [Role.Marketplace, Role.Publisher, Role.Operator];

/** Short names used by `npm run token -- <name>` and test helpers -> role value. */
export const ROLE_BY_NAME: Readonly<Record<'marketplace' | 'publisher' | 'operator', Role>> = {
  marketplace: Role.Marketplace,
  publisher: Role.Publisher,
  operator: Role.Operator,
};

/** True when `v` is one of the service's app roles. */
export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ALL_ROLES as readonly string[]).includes(v);
}
