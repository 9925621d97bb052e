import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { DirectoryError } from './directory';
import { hashSecret } from './entra';
import { passwordComplies } from './graph/model';
import type { EmulatorState, SignInUser, StateStore } from './state';

/**
 * Users who sign in interactively through the emulator's authorization endpoint (signin.ts): the
 * operators and publishers of the service's browser UI. Kept in `state.users` (persisted with
 * `persist`); only the SHA-256 of a password is stored.
 */

/** Options of createUser (POST /_emulator/users, handle.createUser). */
export interface CreateUserOptions {
  /** Existing tenant (default: the service tenant, like createClient). */
  tenantId?: string;
  /** `alias@<tenant domain>`; the domain must be the tenant's (default `userNNNN@<tenant domain>`). */
  userPrincipalName?: string;
  /** Default: the alias of the UPN. */
  displayName?: string;
  /** Entra's password policy applies (8-256 characters, 3 of 4 character classes); default a generated one. */
  password?: string;
  /** App roles that go into the `roles` claim of the user's tokens, e.g. ["TestDrive.Operator"]. */
  roles?: string[];
}

/** What createUser returns: the user and its password (shown once). */
export interface UserInfo {
  tenantId: string;
  objectId: string;
  userPrincipalName: string;
  displayName: string;
  /** Shown once; only its SHA-256 is stored. */
  password: string;
  roles: string[];
}

/** A user as listed (no password). */
export type UserView = Omit<UserInfo, 'password'> & { createdAt: string };

/** Options of updateUser (PATCH /_emulator/users/{objectId}); absent fields stay as they are. */
export interface UpdateUserOptions {
  displayName?: string;
  /** A new password (policy as in createUser); ends the user's sessions and refresh tokens. */
  password?: string;
  roles?: string[];
}

function usersOf(state: EmulatorState): Record<string, SignInUser> {
  return (state.users ??= {});
}

function checkRoles(roles: unknown): string[] {
  if (!Array.isArray(roles) || roles.length > 50 || roles.some((r) => typeof r !== 'string' || !/^\S{1,120}$/.test(r))) {
    throw new DirectoryError(400, 'InvalidRoles', 'roles must be an array of at most 50 role values (1-120 characters, no whitespace).');
  }
  return [...new Set(roles as string[])];
}

function checkPassword(password: unknown): string {
  if (typeof password !== 'string' || !passwordComplies(password)) {
    throw new DirectoryError(400, 'InvalidPassword', "The password doesn't comply with Entra ID's password policy: 8-256 characters and at least three of lower-case letters, upper-case letters, digits and symbols.");
  }
  return password;
}

function checkDisplayName(name: unknown): string {
  if (typeof name !== 'string' || !/^\S.{0,255}$/.test(name)) throw new DirectoryError(400, 'InvalidDisplayName', 'displayName must be 1-256 characters, not starting with a space.');
  return name;
}

/** A generated password meeting Entra's policy (16 characters: letters, digits and a symbol). */
export function newPassword(): string {
  const raw = randomBytes(12).toString('base64url').replace(/[-_]/g, 'x');
  return `${raw.slice(0, 6)}Q7!${raw.slice(6, 13)}k`;
}

/** The listed view of a user (no password hash). */
export function userView(u: SignInUser): UserView {
  return { tenantId: u.tenantId, objectId: u.objectId, userPrincipalName: u.userPrincipalName, displayName: u.displayName, roles: [...u.roles], createdAt: u.createdAt };
}

/**
 * Creates a sign-in user in a tenant. The UPN must be `alias@<the tenant's domain>` (Entra accepts only
 * the tenant's verified domains) and unique across all tenants (case-insensitive).
 * @throws DirectoryError 404 TenantNotFound; 400 InvalidUserPrincipalName / InvalidPassword / InvalidRoles /
 *   InvalidDisplayName; 409 UserPrincipalNameInUse.
 */
export function createUser(state: EmulatorState, store: StateStore, opts: CreateUserOptions = {}): UserInfo {
  const tenantId = opts.tenantId === undefined ? state.serviceTenantId : String(opts.tenantId).toLowerCase();
  const tenant = state.tenants[tenantId];
  if (!tenant) throw new DirectoryError(404, 'TenantNotFound', `Tenant '${String(opts.tenantId).slice(0, 100)}' does not exist.`);
  const users = usersOf(state);
  const taken = (upn: string): boolean => Object.values(users).some((u) => u.userPrincipalName.toLowerCase() === upn.toLowerCase());
  let upn: string;
  if (opts.userPrincipalName !== undefined) {
    upn = String(opts.userPrincipalName);
    const m = /^([A-Za-z0-9._'-]{1,64})@([^@\s]+)$/.exec(upn);
    if (!m || m[1].startsWith('.') || m[1].endsWith('.')) throw new DirectoryError(400, 'InvalidUserPrincipalName', `'${upn.slice(0, 100)}' is not a valid user principal name (alias@domain; the alias is 1-64 letters, digits and . _ ' -).`);
    if (m[2].toLowerCase() !== tenant.name) throw new DirectoryError(400, 'InvalidUserPrincipalName', `The domain of '${upn.slice(0, 100)}' is not a domain of the tenant; use @${tenant.name}.`);
    if (taken(upn)) throw new DirectoryError(409, 'UserPrincipalNameInUse', `Another user already has the user principal name '${upn}'.`);
  } else {
    do upn = `user${randomInt(1000, 100000)}@${tenant.name}`;
    while (taken(upn));
  }
  const displayName = opts.displayName === undefined ? upn.split('@')[0] : checkDisplayName(opts.displayName);
  const password = opts.password === undefined ? newPassword() : checkPassword(opts.password);
  const roles = opts.roles === undefined ? [] : checkRoles(opts.roles);
  const user: SignInUser = { objectId: randomUUID(), tenantId: tenant.id, userPrincipalName: upn, displayName, passwordSha256: hashSecret(password), roles, createdAt: new Date().toISOString() };
  users[user.objectId] = user;
  store.changed();
  return { tenantId: user.tenantId, objectId: user.objectId, userPrincipalName: upn, displayName, password, roles: [...roles] };
}

/** Every sign-in user (no passwords), optionally of one tenant, oldest first. */
export function listUsers(state: EmulatorState, tenantId?: string): UserView[] {
  return Object.values(state.users ?? {})
    .filter((u) => !tenantId || u.tenantId === tenantId.toLowerCase())
    .map(userView);
}

/** A user by object id (lower-case GUID) or UPN (case-insensitive). */
export function findUser(state: EmulatorState, idOrUpn: string): SignInUser | undefined {
  const k = idOrUpn.toLowerCase();
  const users = state.users ?? {};
  return users[k] ?? Object.values(users).find((u) => u.userPrincipalName.toLowerCase() === k);
}

/**
 * Changes a user's display name, roles or password. The caller ends sessions and refresh tokens on a
 * password change (SignInService.updateUser does).
 * @throws DirectoryError 404 UserNotFound; 400 as createUser.
 */
export function updateUser(state: EmulatorState, store: StateStore, idOrUpn: string, opts: UpdateUserOptions): UserView {
  const user = findUser(state, idOrUpn);
  if (!user) throw new DirectoryError(404, 'UserNotFound', `User '${idOrUpn.slice(0, 100)}' does not exist.`);
  const displayName = opts.displayName === undefined ? undefined : checkDisplayName(opts.displayName);
  const roles = opts.roles === undefined ? undefined : checkRoles(opts.roles);
  const password = opts.password === undefined ? undefined : checkPassword(opts.password);
  if (displayName !== undefined) user.displayName = displayName;
  if (roles !== undefined) user.roles = roles;
  if (password !== undefined) user.passwordSha256 = hashSecret(password);
  store.changed();
  return userView(user);
}

/** Deletes a user; false when unknown. */
export function deleteUser(state: EmulatorState, store: StateStore, objectId: string): boolean {
  const user = findUser(state, objectId);
  if (!user) return false;
  delete usersOf(state)[user.objectId];
  store.changed();
  return true;
}
