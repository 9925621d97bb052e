import type { Client } from '@microsoft/microsoft-graph-client';
import { callRemote, classifyRemoteError, RemoteError } from '../../../src/remote/remote-error';

/** A subscribed SKU of the tenant (Graph subscribedSku, the parts we use). */
export interface TenantSku {
  skuId: string;
  skuPartNumber: string;
  /** prepaidUnits.enabled: licenses bought and usable. */
  enabled: number;
  /** Licenses assigned to users (any user, not only test drive users). */
  consumed: number;
}

/** A test drive user as listed by the sweep. */
export interface MarkedUser {
  id: string;
  userPrincipalName: string;
  /** Marker fields (see USER_MARKER). */
  companyName: string | null;
  department: string | null;
  licenseSkuIds: string[];
}

/**
 * How users created by this service are recognised in the publisher's tenant: `employeeType` = "TestDrive",
 * `companyName` = "testdrive:<offerId>" and `department` = the session id. The sweep lists
 * `employeeType eq 'TestDrive' and companyName eq 'testdrive:<offerId>'` (a Graph advanced query:
 * ConsistencyLevel eventual + $count), so only users this service made for that offer are ever removed.
 */
export const USER_MARKER = {
  employeeType: 'TestDrive',
  companyName: (offerId: string) => `testdrive:${offerId}`,
} as const;

/** Fields of a new test drive user (POST /users). */
export interface NewUser {
  upn: string;
  mailNickname: string;
  displayName: string;
  givenName?: string;
  surname?: string;
  password: string;
  /** ISO 3166 alpha-2; required before a license can be assigned. */
  usageLocation: string;
  offerId: string;
  sessionId: string;
}

const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** One page of GET /users (Graph; fields as selected). */
type UsersPage = { value?: Array<Record<string, unknown>>; '@odata.nextLink'?: string };

/**
 * The publisher's Entra ID directory through the Microsoft Graph client (v1.0): test drive users, their
 * licenses, and the tenant's SKUs. Every method is idempotent where the operation allows it (creating
 * an existing UPN returns the existing user; removing a missing license or user is a no-op).
 * Errors are RemoteError (service 'graph', or 'token' when the credential is refused).
 */
export class GraphDirectory {
  constructor(private readonly client: Client) {}

  private call<T>(fn: () => Promise<T>): Promise<T> {
    return callRemote(fn, (err) => classifyRemoteError(err, 'graph'));
  }

  /** The user with this UPN (id and assigned SKU ids), or null. */
  async findUserByUpn(upn: string): Promise<{ id: string; licenseSkuIds: string[] } | null> {
    try {
      const u = await this.call<{ id: string; assignedLicenses?: Array<{ skuId: string }> }>(() => this.client.api(`/users/${encodeURIComponent(upn)}`).select('id,userPrincipalName,assignedLicenses').get());
      return { id: u.id, licenseSkuIds: (u.assignedLicenses ?? []).map((l) => l.skuId.toLowerCase()) };
    } catch (err) {
      if (err instanceof RemoteError && err.kind === 'notFound') return null;
      throw err;
    }
  }

  /** Creates the user (accountEnabled, no password change at first sign-in, marker fields); an existing UPN returns that user. */
  async createUser(u: NewUser): Promise<{ id: string; created: boolean }> {
    try {
      const r = await this.call<{ id: string }>(() =>
        this.client.api('/users').post({
          accountEnabled: true,
          displayName: u.displayName,
          mailNickname: u.mailNickname,
          userPrincipalName: u.upn,
          usageLocation: u.usageLocation,
          ...(u.givenName ? { givenName: u.givenName } : {}),
          ...(u.surname ? { surname: u.surname } : {}),
          employeeType: USER_MARKER.employeeType,
          companyName: USER_MARKER.companyName(u.offerId),
          department: u.sessionId,
          passwordProfile: { password: u.password, forceChangePasswordNextSignIn: false },
        }),
      );
      return { id: r.id, created: true };
    } catch (err) {
      if (err instanceof RemoteError && err.kind === 'invalid' && /same value for property userPrincipalName|already exists/i.test(err.message)) {
        const existing = await this.findUserByUpn(u.upn);
        if (existing) return { id: existing.id, created: false };
      }
      throw err;
    }
  }

  /** Adds license `skuId` (a user already holding it is fine). @throws RemoteError, e.g. code NoLicenseAvailable when the SKU has no free unit. */
  async assignLicense(userId: string, skuId: string): Promise<void> {
    try {
      await this.call(() => this.client.api(`/users/${userId}/assignLicense`).post({ addLicenses: [{ skuId, disabledPlans: [] }], removeLicenses: [] }));
    } catch (err) {
      if (err instanceof RemoteError && /does not have any available licenses/i.test(err.message)) {
        throw new RemoteError('graph', 'invalid', 'NoLicenseAvailable', err.message, err.status);
      }
      throw err;
    }
  }

  /** Removes license `skuId` from the user; a user without it, or no such user, is a no-op. */
  async removeLicense(userId: string, skuId: string): Promise<void> {
    try {
      await this.call(() => this.client.api(`/users/${userId}/assignLicense`).post({ addLicenses: [], removeLicenses: [skuId] }));
    } catch (err) {
      if (err instanceof RemoteError && (err.kind === 'notFound' || /does not have a corresponding license/i.test(err.message))) return;
      throw err;
    }
  }

  /** Deletes the user (Entra keeps it soft-deleted 30 days); no such user is a no-op. */
  async deleteUser(userId: string): Promise<void> {
    try {
      await this.call(() => this.client.api(`/users/${userId}`).delete());
    } catch (err) {
      if (err instanceof RemoteError && err.kind === 'notFound') return;
      throw err;
    }
  }

  /** The tenant's subscribed SKUs (GET /subscribedSkus). */
  async subscribedSkus(): Promise<TenantSku[]> {
    const r = await this.call<{ value?: Array<{ skuId: string; skuPartNumber: string; prepaidUnits?: { enabled?: number }; consumedUnits?: number }> }>(() =>
      this.client.api('/subscribedSkus').get(),
    );
    return (r.value ?? []).map((s) => ({
      skuId: s.skuId.toLowerCase(),
      skuPartNumber: s.skuPartNumber,
      enabled: s.prepaidUnits?.enabled ?? 0,
      consumed: s.consumedUnits ?? 0,
    }));
  }

  /** Verified domain names of the tenant (GET /organization), lower case. */
  async verifiedDomains(): Promise<string[]> {
    const r = await this.call<{ value?: Array<{ verifiedDomains?: Array<{ name: string }> }> }>(() => this.client.api('/organization').select('id,verifiedDomains').get());
    return (r.value?.[0]?.verifiedDomains ?? []).map((d) => d.name.toLowerCase());
  }

  /** Test drive users this service created for `offerId` (marker fields), every page. */
  async listMarkedUsers(offerId: string): Promise<MarkedUser[]> {
    const out: MarkedUser[] = [];
    const filter = `employeeType eq ${quote(USER_MARKER.employeeType)} and companyName eq ${quote(USER_MARKER.companyName(offerId))}`;
    let page = await this.call<UsersPage>(() =>
      this.client
        .api('/users')
        .header('ConsistencyLevel', 'eventual')
        .query({ $count: 'true' })
        .filter(filter)
        .select('id,userPrincipalName,companyName,department,employeeType,assignedLicenses')
        .top(999)
        .get(),
    );
    for (let pages = 0; pages < 100; pages++) {
      for (const u of page.value ?? []) {
        if (u.employeeType !== USER_MARKER.employeeType || u.companyName !== USER_MARKER.companyName(offerId)) continue;
        out.push({
          id: String(u.id),
          userPrincipalName: String(u.userPrincipalName),
          companyName: u.companyName ?? null,
          department: (u.department as string | null) ?? null,
          licenseSkuIds: ((u.assignedLicenses ?? []) as Array<{ skuId: string }>).map((l) => l.skuId.toLowerCase()),
        });
      }
      const next = page['@odata.nextLink'];
      if (!next) break;
      page = await this.call<UsersPage>(() => this.client.api(next).header('ConsistencyLevel', 'eventual').get());
    }
    return out;
  }
}
