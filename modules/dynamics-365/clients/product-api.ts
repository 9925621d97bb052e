import type { TokenCredential } from '@azure/identity';
import { ErrorDetail } from '../../../src/common/api-error';
import { RemoteHttp } from '../../../src/remote/http';
import { classifyRemoteError, RemoteError, remoteErrorFromAnswer, RemoteService } from '../../../src/remote/remote-error';
import { withRetryAfter } from '../../../src/remote/retry';
import { DynamicsProduct, DynamicsTestDriveConfig } from '../dynamics-config';
import { assertOutboundUrlSyntax, DYNAMICS_365_ENDPOINTS, OUTBOUND_URL_REFUSED, OutboundUrlPolicy } from '../../../src/security/outbound-url';

/** A test drive user as the Dynamics 365 environment knows it. */
export interface EnvironmentUser {
  /** CE systemuserid / F&O UserID / BC userSecurityId. */
  id: string;
  /** CE: the user's business unit (roles are looked up in it). */
  businessUnitId?: string;
}

/**
 * The product-specific half of a hosted Dynamics 365 test drive: find a synced user, give and take the
 * publisher's role, and check (publish preflight) that the role exists and the app may use the API.
 * Implementations: Dataverse Web API (Customer Engagement), Finance and Operations OData entities,
 * Business Central automation API, all OData over the product HTTP client (ODataFetch). Methods are
 * idempotent and throw RemoteError (Retry-After of throttled answers is honoured inline up to 10 s).
 * Every call first passes the outbound URL rule (issue 8, src/security/outbound-url.ts); a refusal is
 * RemoteError code OutboundUrlRefused (kind invalid, not retried).
 */
export interface ProductApi {
  readonly product: DynamicsProduct;
  /** The user in the environment once synced (by Entra object id / UPN), else null. */
  findUser(upn: string, objectId: string): Promise<EnvironmentUser | null>;
  /** Gives the user the configured role (already held: no-op). @throws RemoteError code RoleNotFound when the role is gone. */
  assignRole(user: EnvironmentUser, upn: string): Promise<void>;
  /** Takes the configured role away (not held, role or user gone: no-op). */
  removeRole(user: EnvironmentUser, upn: string): Promise<void>;
  /** Preflight: problems with access to the API, the role (and Operations' legal entity), as ErrorDetails naming the field. */
  check(): Promise<ErrorDetail[]>;
}

const odataString = (s: string): string => `'${s.replace(/'/g, "''")}'`;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Turns a "no access" answer of the instance API into a preflight problem naming what to fix. */
function accessProblem(e: RemoteError, product: DynamicsProduct): ErrorDetail {
  if (e.code === OUTBOUND_URL_REFUSED) return { code: OUTBOUND_URL_REFUSED, target: 'testDrive.instanceWebApiUrl', message: e.message.slice(0, 500) };
  if (e.kind === 'credential') return { code: 'CredentialRefused', target: 'deployment.clientSecret', message: `The app registration was refused a token for the instance: ${e.message.slice(0, 300)}` };
  if (e.kind === 'denied') {
    const what = product === 'customer-engagement' ? 'a Dataverse application user with rights to assign roles' : product === 'operations' ? 'registered as a Microsoft Entra application in Finance and Operations' : 'registered as a Microsoft Entra application in Business Central with permissions to manage users';
    return { code: 'InstanceAccessDenied', target: 'deployment.clientId', message: `The app is not allowed to use the instance's API (HTTP ${e.status} ${e.code}): it must be ${what}. ${e.message.slice(0, 200)}` };
  }
  if (e.kind === 'notFound') return { code: 'InstanceApiNotFound', target: 'testDrive.instanceWebApiUrl', message: `The instance's API was not found at this URL (HTTP ${e.status}): ${e.message.slice(0, 200)}` };
  return { code: 'InstanceUnreachable', target: 'testDrive.instanceWebApiUrl', message: `The instance's API did not answer as expected (${e.status ?? 'no HTTP status'} ${e.code}): ${e.message.slice(0, 300)}` };
}

/** The remote named in errors, per product. */
const SERVICE_OF: Record<DynamicsProduct, RemoteService> = { 'customer-engagement': 'dataverse', operations: 'fno', 'business-central': 'bc' };

/**
 * The product API of a Dynamics 365 test drive: an OData client for `cfg.instanceWebApiUrl` (for Customer
 * Engagement it ends in /api/data/v9.x/, validated by dynamics-config.ts) with tokens for
 * `<instanceUrl>/.default` from `credential`, sending through `http` (DynamicsClients' product dispatcher).
 */
export function productApiFor(cfg: DynamicsTestDriveConfig, credential: TokenCredential, http: RemoteHttp, outboundPolicy: OutboundUrlPolicy): ProductApi {
  const odata = new ODataFetch(SERVICE_OF[cfg.product], cfg.instanceWebApiUrl, credential, `${cfg.instanceUrl}/.default`, http, outboundPolicy);
  if (cfg.product === 'customer-engagement') return new DataverseApi(cfg, odata);
  return cfg.product === 'operations' ? new FinanceOperationsApi(cfg, odata) : new BusinessCentralApi(cfg, odata);
}

/**
 * JSON over HTTPS with a bearer token for the instance (OData v4: the Dataverse Web API, F&O entities and
 * the Business Central API), through the product HTTP client (DynamicsClients: the runtime's CA list and
 * a DNS lookup refusing non-public addresses). Each request URL passes rules 1-4 of the outbound URL rule
 * first; the lookup checks rule 5 when a connection is opened. Short Retry-After waits are honoured inline
 * (withRetryAfter).
 */
export class ODataFetch {
  constructor(
    private readonly service: RemoteService,
    private readonly baseUrl: string,
    private readonly credential: TokenCredential,
    private readonly scope: string,
    private readonly http: RemoteHttp,
    private readonly outboundPolicy: OutboundUrlPolicy,
  ) {}

  /** `path` relative to the API base; query values must already be URL-encoded. @throws RemoteError for non-2xx and no answer. */
  request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    return withRetryAfter(this.service, async () => {
      const url = `${this.baseUrl}${path}`;
      assertOutboundUrlSyntax(url, DYNAMICS_365_ENDPOINTS, this.outboundPolicy);
      let token: string;
      try {
        const t = await this.credential.getToken(this.scope);
        if (!t) throw new Error('no token');
        token = t.token;
      } catch (err) {
        throw classifyRemoteError(err, 'token');
      }
      const a = await this.http.send(method, url, {
        headers: { authorization: `Bearer ${token}`, 'OData-Version': '4.0', 'OData-MaxVersion': '4.0' },
        body,
        service: this.service,
      });
      if (a.status >= 200 && a.status < 300) return (typeof a.body === 'string' ? undefined : a.body) as T;
      const e = (a.body as { error?: { code?: string; message?: string; innererror?: { message?: string } } } | undefined)?.error;
      const message = e?.innererror?.message || e?.message || a.text.slice(0, 300) || `HTTP ${a.status}`;
      throw remoteErrorFromAnswer(this.service, { status: a.status, code: e?.code || undefined, message, headers: a.headers });
    });
  }
}

/**
 * Customer Engagement through the Dataverse Web API (role looked up by name in the user's business unit;
 * roles given with the `systemuserroles_association` navigation property).
 */
export class DataverseApi implements ProductApi {
  readonly product = 'customer-engagement' as const;
  constructor(
    private readonly cfg: DynamicsTestDriveConfig,
    private readonly http: ODataFetch,
  ) {}

  async findUser(_upn: string, objectId: string): Promise<EnvironmentUser | null> {
    if (!GUID.test(objectId)) return null;
    const r = await this.http.request<{ value?: Array<{ systemuserid: string; _businessunitid_value: string }> }>(
      'GET',
      `systemusers?$filter=${encodeURIComponent(`azureactivedirectoryobjectid eq ${objectId}`)}&$select=systemuserid,_businessunitid_value,isdisabled`,
    );
    const u = r.value?.[0];
    return u ? { id: u.systemuserid, businessUnitId: u._businessunitid_value } : null;
  }

  private async roleIn(businessUnitId: string | undefined): Promise<string | null> {
    const bu = businessUnitId && GUID.test(businessUnitId) ? ` and _businessunitid_value eq ${businessUnitId}` : '';
    const r = await this.http.request<{ value?: Array<{ roleid: string }> }>('GET', `roles?$filter=${encodeURIComponent(`name eq ${odataString(this.cfg.roleName)}${bu}`)}&$select=roleid,name`);
    return r.value?.[0]?.roleid ?? null;
  }

  async assignRole(user: EnvironmentUser): Promise<void> {
    const roleId = await this.roleIn(user.businessUnitId);
    if (!roleId) throw new RemoteError('dataverse', 'invalid', 'RoleNotFound', `Security role '${this.cfg.roleName}' does not exist in the user's business unit.`);
    if (!GUID.test(user.id)) throw new RemoteError('dataverse', 'invalid', 'InvalidUserId', `'${user.id.slice(0, 60)}' is not a Dataverse user id.`);
    try {
      await this.http.request('POST', `systemusers(${user.id})/systemuserroles_association/$ref`, { '@odata.id': `${this.cfg.instanceWebApiUrl}roles(${roleId})` });
    } catch (err) {
      if (err instanceof RemoteError && err.code === '0x80040237') return; // already held
      throw err;
    }
  }

  async removeRole(user: EnvironmentUser): Promise<void> {
    const roleId = await this.roleIn(user.businessUnitId);
    if (!roleId || !GUID.test(user.id)) return;
    try {
      await this.http.request('DELETE', `systemusers(${user.id})/systemuserroles_association(${roleId})/$ref`);
    } catch (err) {
      if (err instanceof RemoteError && err.kind === 'notFound') return;
      throw err;
    }
  }

  async check(): Promise<ErrorDetail[]> {
    try {
      await this.http.request('GET', 'WhoAmI');
      const roleId = await this.roleIn(undefined);
      if (!roleId) return [{ code: 'RoleNotFound', target: 'testDrive.roleName', message: `Security role '${this.cfg.roleName}' was not found in the Dynamics 365 instance (Dataverse roles, by name).` }];
      return [];
    } catch (err) {
      return [accessProblem(classifyRemoteError(err, 'dataverse'), this.product)];
    }
  }
}

/** Finance and Operations through its OData entities (SystemUsers, SecurityRoles, SecurityUserRoleAssociations, SecurityUserRoleOrganizations). */
export class FinanceOperationsApi implements ProductApi {
  readonly product = 'operations' as const;
  constructor(
    private readonly cfg: DynamicsTestDriveConfig,
    private readonly http: ODataFetch,
  ) {}

  async findUser(upn: string): Promise<EnvironmentUser | null> {
    const r = await this.http.request<{ value?: Array<{ UserID: string }> }>('GET', `SystemUsers?$filter=${encodeURIComponent(`Alias eq ${odataString(upn)}`)}&$select=UserID,Alias`);
    const u = r.value?.[0];
    return u ? { id: u.UserID } : null;
  }

  async assignRole(user: EnvironmentUser): Promise<void> {
    const role = this.cfg.roleName;
    try {
      await this.http.request('POST', 'SecurityUserRoleAssociations', { UserId: user.id, SecurityRoleIdentifier: role, AssignmentStatus: 'Enabled', AssignmentMode: 'Manual' });
    } catch (err) {
      if (!(err instanceof RemoteError && /already exists/i.test(err.message))) {
        if (err instanceof RemoteError && /Security role .* does not exist/i.test(err.message)) throw new RemoteError('fno', 'invalid', 'RoleNotFound', err.message, err.status);
        throw err;
      }
    }
    if (!this.cfg.trialLegalEntity) return;
    try {
      await this.http.request('POST', 'SecurityUserRoleOrganizations', { UserId: user.id, SecurityRoleIdentifier: role, OrganizationId: this.cfg.trialLegalEntity });
    } catch (err) {
      if (err instanceof RemoteError && /already exists/i.test(err.message)) return;
      throw err;
    }
  }

  async removeRole(user: EnvironmentUser): Promise<void> {
    try {
      await this.http.request('DELETE', `SecurityUserRoleAssociations(UserId=${encodeURIComponent(odataString(user.id))},SecurityRoleIdentifier=${encodeURIComponent(odataString(this.cfg.roleName))})`);
    } catch (err) {
      if (err instanceof RemoteError && err.kind === 'notFound') return;
      throw err;
    }
  }

  async check(): Promise<ErrorDetail[]> {
    try {
      const problems: ErrorDetail[] = [];
      const roles = await this.http.request<{ value?: unknown[] }>('GET', `SecurityRoles?$filter=${encodeURIComponent(`SecurityRoleIdentifier eq ${odataString(this.cfg.roleName)}`)}&$select=SecurityRoleIdentifier`);
      if (!roles.value?.length) problems.push({ code: 'RoleNotFound', target: 'testDrive.roleName', message: `Security role with AOT name '${this.cfg.roleName}' was not found in Finance and Operations (SecurityRoles).` });
      if (this.cfg.trialLegalEntity) {
        const le = await this.http.request<{ value?: unknown[] }>('GET', `LegalEntities?$filter=${encodeURIComponent(`LegalEntityId eq ${odataString(this.cfg.trialLegalEntity)}`)}`);
        if (!le.value?.length) problems.push({ code: 'LegalEntityNotFound', target: 'testDrive.trialLegalEntity', message: `Legal entity '${this.cfg.trialLegalEntity}' was not found in Finance and Operations (LegalEntities).` });
      }
      return problems;
    } catch (err) {
      return [accessProblem(classifyRemoteError(err, 'fno'), this.product)];
    }
  }
}

/** Business Central through its automation API v2.0 (companies, users, permissionSets, userPermissions). */
export class BusinessCentralApi implements ProductApi {
  readonly product = 'business-central' as const;
  private company?: Promise<{ id: string; name: string }>;

  constructor(
    private readonly cfg: DynamicsTestDriveConfig,
    private readonly http: ODataFetch,
  ) {}

  /** The environment's first company (the automation API addresses users per company). */
  private companyOf(): Promise<{ id: string; name: string }> {
    this.company ??= this.http.request<{ value?: Array<{ id: string; name: string }> }>('GET', 'companies').then((r) => {
      const c = r.value?.[0];
      if (!c) throw new RemoteError('bc', 'invalid', 'NoCompany', 'The Business Central environment has no company.');
      return { id: c.id, name: c.name };
    });
    this.company.catch(() => (this.company = undefined));
    return this.company;
  }

  async findUser(upn: string): Promise<EnvironmentUser | null> {
    const c = await this.companyOf();
    const r = await this.http.request<{ value?: Array<{ userSecurityId: string }> }>('GET', `companies(${c.id})/users?$filter=${encodeURIComponent(`authenticationEmail eq ${odataString(upn)}`)}`);
    const u = r.value?.[0];
    return u ? { id: u.userSecurityId } : null;
  }

  async assignRole(user: EnvironmentUser): Promise<void> {
    const c = await this.companyOf();
    try {
      await this.http.request('POST', `companies(${c.id})/users(${user.id})/userPermissions`, { roleId: this.cfg.roleName, company: c.name });
    } catch (err) {
      if (err instanceof RemoteError && err.code === 'Internal_EntityWithSameKeyExists') return;
      if (err instanceof RemoteError && err.code === 'Internal_RecordNotFound' && /Permission Set/i.test(err.message)) throw new RemoteError('bc', 'invalid', 'RoleNotFound', err.message, err.status);
      throw err;
    }
  }

  async removeRole(user: EnvironmentUser): Promise<void> {
    const c = await this.companyOf();
    const base = `companies(${c.id})/users(${user.id})/userPermissions`;
    let perms: Array<{ id: string; roleId: string }>;
    try {
      perms = (await this.http.request<{ value?: Array<{ id: string; roleId: string }> }>('GET', base)).value ?? [];
    } catch (err) {
      if (err instanceof RemoteError && err.kind === 'notFound') return;
      throw err;
    }
    for (const p of perms.filter((x) => x.roleId.toLowerCase() === this.cfg.roleName.toLowerCase())) {
      try {
        await this.http.request('DELETE', `${base}(${p.id})`);
      } catch (err) {
        if (!(err instanceof RemoteError && err.kind === 'notFound')) throw err;
      }
    }
  }

  async check(): Promise<ErrorDetail[]> {
    try {
      const c = await this.companyOf();
      const sets = await this.http.request<{ value?: unknown[] }>('GET', `companies(${c.id})/permissionSets?$filter=${encodeURIComponent(`id eq ${odataString(this.cfg.roleName)}`)}`);
      if (!sets.value?.length) return [{ code: 'RoleNotFound', target: 'testDrive.roleName', message: `Permission set '${this.cfg.roleName}' was not found in Business Central.` }];
      return [];
    } catch (err) {
      return [accessProblem(classifyRemoteError(err, 'bc'), this.product)];
    }
  }
}
