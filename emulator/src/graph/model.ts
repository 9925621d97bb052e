import { randomBytes, randomUUID, scryptSync } from 'node:crypto';
import type { EmulatorState } from '../state';

/** A license on a user (Graph `assignedLicense`) plus when it was assigned (drives the Dynamics sync delay). */
export interface StoredAssignedLicense {
  skuId: string;
  disabledPlans: string[];
  /** Epoch ms of the assignLicense call that added it. */
  assignedAtMs: number;
}

/**
 * A Microsoft Graph (Entra ID) user as the emulator stores it. The password is never stored in clear:
 * only a salted scrypt hash (`passwordHash` = "scrypt$salt$hash", base64url parts).
 */
export interface GraphUser {
  id: string;
  userPrincipalName: string;
  displayName: string;
  mailNickname: string;
  accountEnabled: boolean;
  usageLocation: string | null;
  createdDateTime: string;
  passwordHash: string;
  forceChangePasswordNextSignIn: boolean;
  assignedLicenses: StoredAssignedLicense[];
  /**
   * Other string properties (givenName, surname, jobTitle, department, companyName, employeeType, employeeId,
   * officeLocation, mail, city, country, state, ... ) and `extension_{appId}_{name}` directory extensions.
   */
  props: Record<string, string | number | boolean | null>;
  /** Graph `onPremisesExtensionAttributes` (extensionAttribute1..15). */
  extensionAttributes: Record<string, string | null>;
}

/** A subscribed SKU of a tenant (Graph `subscribedSku`); consumedUnits is computed from the users. */
export interface SubscribedSku {
  skuId: string;
  skuPartNumber: string;
  prepaidUnits: { enabled: number; suspended: number; warning: number; lockedOut: number };
  servicePlans: Array<{ servicePlanId: string; servicePlanName: string; provisioningStatus: string; appliesTo: string }>;
}

/** The Graph-visible directory content of one tenant. */
export interface TenantDirectory {
  /** Key: user id (lower-case GUID). */
  users: Record<string, GraphUser>;
  /** Key: skuId (lower-case GUID). */
  skus: Record<string, SubscribedSku>;
}

/** Shape added to EmulatorState (optional so older state.json files still load). */
export interface GraphStateExtension {
  /** Key: tenant id. */
  graphDirectories?: Record<string, TenantDirectory>;
}

/** Returns (creating when missing) the Graph directory of a tenant. */
export function directoryOf(state: EmulatorState, tenantId: string): TenantDirectory {
  const all = (state.graphDirectories ??= {});
  return (all[tenantId] ??= { users: {}, skus: {} });
}

/** Number of users holding `skuId` (Graph's `consumedUnits`). */
export function consumedUnits(dir: TenantDirectory, skuId: string): number {
  const k = skuId.toLowerCase();
  return Object.values(dir.users).filter((u) => u.assignedLicenses.some((l) => l.skuId === k)).length;
}

/** Salted scrypt hash of a password ("scrypt$<salt>$<hash>", base64url). */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32);
  return `scrypt$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

/**
 * Entra ID's password policy for cloud users (learn.microsoft.com, "Password policies and account restrictions"):
 * 8-256 characters and at least three of: lower-case, upper-case, digits, symbols. Returns true when compliant.
 */
export function passwordComplies(password: string): boolean {
  if (password.length < 8 || password.length > 256) return false;
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  return classes >= 3;
}

/** Well-known SKUs the Dynamics environments use (skuId GUIDs as in Microsoft's licensing service-plan reference). */
export const DYNAMICS_SKUS: Record<'customer-engagement' | 'business-central' | 'operations', { skuPartNumber: string; skuId: string; plan: string }> = {
  'customer-engagement': { skuPartNumber: 'DYN365_ENTERPRISE_PLAN1', skuId: 'ea126fc5-a19e-42e2-a731-da9d437bffcf', plan: 'DYN365_ENTERPRISE_P1' },
  'business-central': { skuPartNumber: 'DYN365_BUSCENTRAL_ESSENTIAL', skuId: '2880026b-2b0c-4251-8656-5d41ff11e3aa', plan: 'DYN365_FINANCIALS_BUSINESS' },
  operations: { skuPartNumber: 'DYN365_ENTERPRISE_P1_IW', skuId: '338148b6-1b11-4102-afb9-f92b6cdc0f8d', plan: 'DYN365_ENTERPRISE_P1_IW' },
};

/** Ensures the tenant has `skuId` subscribed with `enabled` prepaid units (creating it when missing). */
export function ensureSku(dir: TenantDirectory, skuId: string, skuPartNumber: string, planName: string, enabled: number): SubscribedSku {
  const k = skuId.toLowerCase();
  const sku = (dir.skus[k] ??= {
    skuId: k,
    skuPartNumber,
    prepaidUnits: { enabled, suspended: 0, warning: 0, lockedOut: 0 },
    servicePlans: [{ servicePlanId: randomUUID(), servicePlanName: planName, provisioningStatus: 'Success', appliesTo: 'User' }],
  });
  sku.prepaidUnits.enabled = enabled;
  return sku;
}
