import { randomUUID } from 'node:crypto';
import { isValid as isValidCountry } from 'i18n-iso-countries';
import type { Ctx } from '../http';
import { header, isObject, jsonBody, send, sleep } from '../http';
import type { EmulatorState, StateStore } from '../state';
import type { FaultStore, ActiveFault } from '../faults';
import { defaultFaultCode } from '../faults';
import { verifyBearer, type AccessTokenClaims, type SigningKeys } from '../entra';
import { purgeUserFromEnvironments } from '../dynamics/model';
import { consumedUnits, directoryOf, hashPassword, passwordComplies, type GraphUser, type TenantDirectory } from './model';
import { ODataFilterError, applySelect, evalFilter, parseFilter } from './odata';
import { APPLICATION_PROPS, alternateKeyOf, applicationResource, findTenantApplication, tenantApplications } from './applications';

/** Audiences Microsoft Graph accepts: the resource URI (v1 tokens) or Graph's appId (v2 tokens). */
export const GRAPH_AUDIENCES = ['https://graph.microsoft.com', 'https://graph.microsoft.com/', '00000003-0000-0000-c000-000000000000'];

/** Application permissions that allow reading users (any of them). */
const READ_PERMS = ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All', 'User.ReadBasic.All'];
/** Application permissions that allow writing users and licenses (any of them). */
const WRITE_PERMS = ['User.ReadWrite.All', 'Directory.ReadWrite.All'];
const LICENSE_PERMS = [...WRITE_PERMS, 'LicenseAssignment.ReadWrite.All'];
const ORG_READ_PERMS = ['Organization.Read.All', 'Organization.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All', 'LicenseAssignment.ReadWrite.All'];
/** Application permissions that allow reading every app registration of the tenant (any of them). */
const APP_READ_PERMS = ['Application.Read.All', 'Application.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];
/** Application.ReadWrite.OwnedBy: the apps the caller owns; the emulator counts an app as owner of itself only. */
const APP_OWNED_PERM = 'Application.ReadWrite.OwnedBy';

/** Properties Graph returns for a user when there is no `$select` (Graph v1.0 default set). */
const DEFAULT_USER_PROPS = ['businessPhones', 'displayName', 'givenName', 'jobTitle', 'mail', 'mobilePhone', 'officeLocation', 'preferredLanguage', 'surname', 'userPrincipalName', 'id'];

/** Free-form string properties stored as given (null clears). */
const STRING_PROPS = ['givenName', 'surname', 'jobTitle', 'department', 'companyName', 'employeeType', 'employeeId', 'officeLocation', 'mail', 'mobilePhone', 'city', 'country', 'state', 'streetAddress', 'postalCode', 'preferredLanguage', 'passwordPolicies', 'employeeHireDate'];

/** All user properties the emulator knows (for `$filter` / `$select` validation). */
const ALL_USER_PROPS = new Set(
  [...DEFAULT_USER_PROPS, ...STRING_PROPS, 'accountEnabled', 'usageLocation', 'mailNickname', 'createdDateTime', 'assignedLicenses', 'assignedLicenses/skuId', 'assignedLicenses/disabledPlans', 'onPremisesExtensionAttributes', 'userType', 'creationType', 'otherMails', 'proxyAddresses', 'identities']
    .concat(Array.from({ length: 15 }, (_, i) => `onPremisesExtensionAttributes/extensionAttribute${i + 1}`))
    .map((p) => p.toLowerCase()),
);

/** Dependencies of the Graph handler. */
export interface GraphDeps {
  state: EmulatorState;
  store: StateStore;
  keys: SigningKeys;
  faults: FaultStore;
  log: (msg: string, extra?: object) => void;
}

class GraphError extends Error {
  constructor(public readonly status: number, public readonly code: string, message: string, public readonly headers: Record<string, string | number> = {}) {
    super(message);
  }
}

const bad = (message: string, code = 'Request_BadRequest'): GraphError => new GraphError(400, code, message);

/**
 * Sends a Microsoft Graph error: `{error: {code, message, innerError: {date, request-id, client-request-id}}}`
 * with `request-id` / `client-request-id` headers (Graph's documented error format).
 */
function sendGraphError(ctx: Ctx, e: GraphError): void {
  const clientRequestId = header(ctx.req, 'client-request-id') ?? ctx.requestId;
  send(ctx, e.status, { error: { code: e.code, message: e.message, innerError: { date: new Date().toISOString().replace(/\.\d+Z$/, ''), 'request-id': ctx.requestId, 'client-request-id': clientRequestId } } }, e.headers);
}

function userResource(u: GraphUser): Record<string, unknown> {
  const ext: Record<string, string | null> = {};
  for (let i = 1; i <= 15; i++) ext[`extensionAttribute${i}`] = u.extensionAttributes[`extensionAttribute${i}`] ?? null;
  const base: Record<string, unknown> = {
    id: u.id,
    businessPhones: [],
    displayName: u.displayName,
    givenName: null,
    jobTitle: null,
    mail: null,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    surname: null,
    userPrincipalName: u.userPrincipalName,
    accountEnabled: u.accountEnabled,
    usageLocation: u.usageLocation,
    mailNickname: u.mailNickname,
    createdDateTime: u.createdDateTime,
    userType: 'Member',
    creationType: null,
    assignedLicenses: u.assignedLicenses.map((l) => ({ disabledPlans: l.disabledPlans, skuId: l.skuId })),
    onPremisesExtensionAttributes: ext,
  };
  for (const p of STRING_PROPS) if (!(p in base)) base[p] = null;
  return { ...base, ...u.props };
}

function present(u: GraphUser, select: string | null): Record<string, unknown> {
  const full = userResource(u);
  if (!select) return applySelect(full, DEFAULT_USER_PROPS.join(','));
  return applySelect(full, select, [], (name) => {
    if (!name.toLowerCase().startsWith('extension_')) throw bad(`Could not find a property named '${name}' on type 'microsoft.graph.user'.`, 'BadRequest');
  });
}

function findUser(dir: TenantDirectory, idOrUpn: string): GraphUser | undefined {
  const k = idOrUpn.toLowerCase();
  return dir.users[k] ?? Object.values(dir.users).find((u) => u.userPrincipalName.toLowerCase() === k);
}

function notFound(id: string): GraphError {
  return new GraphError(404, 'Request_ResourceNotFound', `Resource '${id.slice(0, 200)}' does not exist or one of its queried reference-property objects are not present.`);
}

async function applyFault(op: string, faults: FaultStore): Promise<GraphError | undefined> {
  const f: ActiveFault | undefined = faults.take(op);
  if (!f) return undefined;
  if (f.latencyMs) await sleep(f.latencyMs);
  if (!f.status) return undefined;
  const headers: Record<string, string | number> = {};
  if (f.status === 429 || f.status === 503 || f.retryAfterSeconds !== undefined) headers['Retry-After'] = f.retryAfterSeconds ?? 1;
  const code = f.errorCode ?? (f.status === 429 ? 'TooManyRequests' : f.status === 503 ? 'serviceNotAvailable' : defaultFaultCode(f.status));
  const msg = f.status === 429 ? 'Too many requests. Please retry after the time given in the Retry-After header.' : `Injected fault (${code}).`;
  return new GraphError(f.status, code, msg, headers);
}

/** Checks the token: signature, lifetime, Graph audience, known tenant. Returns claims or throws 401. */
async function authenticate(ctx: Ctx, deps: GraphDeps): Promise<AccessTokenClaims> {
  const r = await verifyBearer(deps.keys, header(ctx.req, 'authorization'), GRAPH_AUDIENCES);
  if ('failure' in r) {
    const msg = r.failure === 'missing' ? 'Access token is empty.' : r.failure === 'expired' ? 'Lifetime validation failed, the token is expired.' : r.failure === 'audience' ? 'Access token validation failure. Invalid audience.' : 'Access token validation failure.';
    throw new GraphError(401, 'InvalidAuthenticationToken', msg, { 'WWW-Authenticate': 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"' });
  }
  if (!deps.state.tenants[r.claims.tid]) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid tenant.');
  return r.claims;
}

/**
 * Application-permission check. Publisher apps (createPublisher) hold User.ReadWrite.All and
 * Directory.ReadWrite.All; other clients need the permission in their token's `roles` claim.
 * Failure: 403 `Authorization_RequestDenied` "Insufficient privileges to complete the operation."
 */
function authorize(deps: GraphDeps, claims: AccessTokenClaims, anyOf: string[]): void {
  if (holds(deps, claims, anyOf)) return;
  throw new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
}

/** Whether the caller holds one of `anyOf` (publisher apps hold everything authorize() checks). */
function holds(deps: GraphDeps, claims: AccessTokenClaims, anyOf: string[]): boolean {
  const client = deps.state.clients[(claims.appid ?? claims.azp ?? '').toLowerCase()];
  if (client?.kind === 'publisher') return true;
  const roles = new Set(claims.roles ?? []);
  return anyOf.some((p) => roles.has(p));
}

/**
 * Which applications the caller may read: 'all' (Application.Read.All, Application.ReadWrite.All,
 * Directory.Read.All, Directory.ReadWrite.All; publisher apps), 'own' (only Application.ReadWrite.OwnedBy:
 * its own registration, the emulator treating every app as an owner of itself), else 403
 * Authorization_RequestDenied as Graph answers.
 */
function applicationAccess(deps: GraphDeps, claims: AccessTokenClaims): 'all' | 'own' {
  if (holds(deps, claims, APP_READ_PERMS)) return 'all';
  if ((claims.roles ?? []).includes(APP_OWNED_PERM)) return 'own';
  throw new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
}

/**
 * Microsoft Graph v1.0 (and beta, same behaviour) under `/graph/{version}/`:
 * users (list with $filter/$select/$top/$orderby/@odata.nextLink; create; get/patch/delete by id or UPN),
 * `users/{id}/assignLicense`, `users/{id}/licenseDetails`, `subscribedSkus[/{id}]`, `organization`.
 * `applications` (list with $filter/$select/$top; get by object id or `applications(appId='{appId}')`; needs
 * Application.Read.All or the like, see applicationAccess).
 * Fault operation names: graph.users.{list,create,get,update,delete}, graph.assignLicense,
 * graph.licenseDetails.list, graph.subscribedSkus.{list,get}, graph.organization.list, graph.applications.{list,get}.
 */
export async function handleGraph(ctx: Ctx, deps: GraphDeps): Promise<void> {
  ctx.res.setHeader('request-id', ctx.requestId);
  ctx.res.setHeader('client-request-id', header(ctx.req, 'client-request-id') ?? ctx.requestId);
  ctx.res.setHeader('OData-Version', '4.0');
  try {
    await route(ctx, deps);
  } catch (e) {
    if (e instanceof GraphError) return sendGraphError(ctx, e);
    if (e instanceof SyntaxError) return sendGraphError(ctx, bad('Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.', 'BadRequest'));
    throw e;
  }
}

async function route(ctx: Ctx, deps: GraphDeps): Promise<void> {
  const s = ctx.segments.slice(1).filter((x) => x !== '');
  const version = (s[0] ?? '').toLowerCase();
  if (version !== 'v1.0' && version !== 'beta') throw new GraphError(400, 'BadRequest', `Invalid version: ${(s[0] ?? '').slice(0, 40)}`);
  const res = s.slice(1);
  const altKey = alternateKeyOf(res[0] ?? '');
  const coll = altKey ? 'applications' : (res[0] ?? '').toLowerCase();
  const m = ctx.method;
  const op = (name: string): string => `graph.${name}`;
  const base = `${ctx.baseUrl}/graph/${s[0]}`;

  const claims = await authenticate(ctx, deps);
  const tenantId = claims.tid;
  const dir = directoryOf(deps.state, tenantId);
  const withFault = async (name: string): Promise<void> => {
    const f = await applyFault(op(name), deps.faults);
    if (f) throw f;
  };

  if (coll === 'applications' && m === 'GET' && (res.length === 1 || (res.length === 2 && !altKey))) {
    const access = applicationAccess(deps, claims);
    const callerAppId = (claims.appid ?? claims.azp ?? '').toLowerCase();
    if (res.length === 1 && !altKey) {
      await withFault('applications.list');
      return listApplications(ctx, deps, tenantId, base, access === 'own' ? callerAppId : undefined);
    }
    await withFault('applications.get');
    const key = altKey ?? { id: res[1] };
    const app = findTenantApplication(deps.state, tenantId, key);
    if (!app) throw notFound(altKey ? altKey.appId : res[1]);
    if (access === 'own' && app.clientId.toLowerCase() !== callerAppId) throw new GraphError(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    return send(ctx, 200, { '@odata.context': `${base}/$metadata#applications/$entity`, ...selectApplication(applicationResource(deps.state, deps.store, app), ctx.query.get('$select')) });
  }
  if (coll === 'users' && res.length === 1) {
    if (m === 'GET') {
      authorize(deps, claims, READ_PERMS);
      await withFault('users.list');
      return listUsers(ctx, dir, base);
    }
    if (m === 'POST') {
      authorize(deps, claims, WRITE_PERMS);
      await withFault('users.create');
      const u = createUser(deps.state, tenantId, dir, jsonBody(ctx));
      deps.store.changed();
      deps.log('graph: user created', { tenantId, userId: u.id });
      return send(ctx, 201, { '@odata.context': `${base}/$metadata#users/$entity`, ...present(u, null) }, { Location: `${base}/users/${u.id}` });
    }
  }
  if (coll === 'users' && res.length === 2) {
    if (m === 'GET') {
      authorize(deps, claims, READ_PERMS);
      await withFault('users.get');
      const u = findUser(dir, res[1]);
      if (!u) throw notFound(res[1]);
      return send(ctx, 200, { '@odata.context': `${base}/$metadata#users/$entity`, ...present(u, ctx.query.get('$select')) });
    }
    if (m === 'PATCH') {
      authorize(deps, claims, WRITE_PERMS);
      await withFault('users.update');
      const u = findUser(dir, res[1]);
      if (!u) throw notFound(res[1]);
      patchUser(deps.state, tenantId, dir, u, jsonBody(ctx));
      deps.store.changed();
      return send(ctx, 204);
    }
    if (m === 'DELETE') {
      authorize(deps, claims, WRITE_PERMS);
      await withFault('users.delete');
      const u = findUser(dir, res[1]);
      if (!u) throw notFound(res[1]);
      delete dir.users[u.id];
      purgeUserFromEnvironments(deps.state, tenantId, u.id);
      deps.store.changed();
      deps.log('graph: user deleted', { tenantId, userId: u.id });
      return send(ctx, 204);
    }
  }
  if (coll === 'users' && res.length === 3 && res[2].toLowerCase() === 'assignlicense' && m === 'POST') {
    authorize(deps, claims, LICENSE_PERMS);
    await withFault('assignLicense');
    const u = findUser(dir, res[1]);
    if (!u) throw notFound(res[1]);
    assignLicense(deps.state, tenantId, dir, u, jsonBody(ctx));
    deps.store.changed();
    return send(ctx, 200, { '@odata.context': `${base}/$metadata#users/$entity`, ...present(u, null) });
  }
  if (coll === 'users' && res.length === 3 && res[2].toLowerCase() === 'licensedetails' && m === 'GET') {
    authorize(deps, claims, READ_PERMS);
    await withFault('licenseDetails.list');
    const u = findUser(dir, res[1]);
    if (!u) throw notFound(res[1]);
    return send(ctx, 200, {
      '@odata.context': `${base}/$metadata#users('${u.id}')/licenseDetails`,
      value: u.assignedLicenses.map((l) => {
        const sku = dir.skus[l.skuId];
        return { id: l.skuId, skuId: l.skuId, skuPartNumber: sku?.skuPartNumber ?? null, servicePlans: sku?.servicePlans ?? [] };
      }),
    });
  }
  if (coll === 'subscribedskus' && (res.length === 1 || res.length === 2) && m === 'GET') {
    authorize(deps, claims, ORG_READ_PERMS.concat(READ_PERMS));
    await withFault(res.length === 1 ? 'subscribedSkus.list' : 'subscribedSkus.get');
    const all = Object.values(dir.skus).map((sku) => ({
      accountName: deps.state.tenants[tenantId]?.name.split('.')[0] ?? '',
      accountId: tenantId,
      appliesTo: 'User',
      capabilityStatus: 'Enabled',
      consumedUnits: consumedUnits(dir, sku.skuId),
      id: `${tenantId}_${sku.skuId}`,
      skuId: sku.skuId,
      skuPartNumber: sku.skuPartNumber,
      subscriptionIds: [],
      prepaidUnits: { ...sku.prepaidUnits },
      servicePlans: sku.servicePlans,
    }));
    if (res.length === 1) return send(ctx, 200, { '@odata.context': `${base}/$metadata#subscribedSkus`, value: all });
    const one = all.find((x) => x.id.toLowerCase() === res[1].toLowerCase());
    if (!one) throw notFound(res[1]);
    return send(ctx, 200, { '@odata.context': `${base}/$metadata#subscribedSkus/$entity`, ...one });
  }
  if (coll === 'organization' && res.length === 1 && m === 'GET') {
    authorize(deps, claims, ORG_READ_PERMS.concat(READ_PERMS));
    await withFault('organization.list');
    const t = deps.state.tenants[tenantId];
    return send(ctx, 200, { '@odata.context': `${base}/$metadata#organization`, value: [{ id: tenantId, displayName: t.name.split('.')[0], verifiedDomains: [{ name: t.name, isDefault: true, isInitial: true, type: 'Managed', capabilities: 'Email, OfficeCommunicationsOnline' }] }] });
  }
  throw new GraphError(400, 'BadRequest', `Resource not found for the segment '${(res[0] ?? '').slice(0, 100)}'.`);
}

/** `$select` on an application (unknown names: 400 BadRequest, as Graph). */
function selectApplication(rec: Record<string, unknown>, select: string | null): Record<string, unknown> {
  return applySelect(rec, select, [], (name) => {
    throw bad(`Could not find a property named '${name.slice(0, 100)}' on type 'microsoft.graph.application'.`, 'BadRequest');
  });
}

/**
 * `GET /applications` with `$filter` (e.g. `appId eq '{id}'`, `startswith(displayName,'x')`), `$select`, `$top`
 * (1-999, default 100), `$count=true` and `@odata.nextLink` paging; `onlyAppId` restricts the list to the
 * caller's own registration (Application.ReadWrite.OwnedBy).
 */
function listApplications(ctx: Ctx, deps: GraphDeps, tenantId: string, base: string, onlyAppId: string | undefined): void {
  const q = ctx.query;
  const topRaw = q.get('$top');
  const top = topRaw === null ? 100 : Number(topRaw);
  if (!Number.isInteger(top) || top < 1 || top > 999) throw bad(`Invalid page size specified: '${(topRaw ?? '').slice(0, 20)}'. Must be between 1 and 999 inclusive.`, 'Request_UnsupportedQuery');
  let apps = tenantApplications(deps.state, tenantId)
    .filter((a) => onlyAppId === undefined || a.clientId.toLowerCase() === onlyAppId)
    .map((a) => applicationResource(deps.state, deps.store, a));
  const filterSrc = q.get('$filter');
  if (filterSrc) {
    let node;
    try {
      node = parseFilter(filterSrc, (p) => APPLICATION_PROPS.has(p.toLowerCase().split('/')[0]));
    } catch (e) {
      if (e instanceof ODataFilterError) {
        const unknown = (e as { unknownProperty?: string }).unknownProperty;
        throw unknown ? bad(`Could not find a property named '${unknown}' on type 'microsoft.graph.application'.`, 'BadRequest') : bad(`Invalid filter clause: ${e.message}`, 'BadRequest');
      }
      throw e;
    }
    apps = apps.filter((a) => evalFilter(node, a));
  }
  apps.sort((a, b) => String(a.id).localeCompare(String(b.id)));
  const offset = pageOffset(q);
  const select = q.get('$select');
  const body: Record<string, unknown> = { '@odata.context': `${base}/$metadata#applications${select ? `(${select})` : ''}` };
  if (q.get('$count') === 'true') body['@odata.count'] = apps.length;
  body.value = apps.slice(offset, offset + top).map((a) => selectApplication(a, select));
  if (offset + top < apps.length) {
    const next = new URLSearchParams();
    for (const k of ['$filter', '$select', '$top', '$count']) {
      const v = q.get(k);
      if (v !== null) next.set(k, v);
    }
    next.set('$skiptoken', Buffer.from(JSON.stringify({ o: offset + top })).toString('base64url'));
    body['@odata.nextLink'] = `${base}/applications?${next.toString()}`;
  }
  send(ctx, 200, body);
}

function listUsers(ctx: Ctx, dir: TenantDirectory, base: string): void {
  const q = ctx.query;
  const topRaw = q.get('$top');
  const top = topRaw === null ? 100 : Number(topRaw);
  if (!Number.isInteger(top) || top < 1 || top > 999) throw bad(`Invalid page size specified: '${(topRaw ?? '').slice(0, 20)}'. Must be between 1 and 999 inclusive.`, 'Request_UnsupportedQuery');
  const filterSrc = q.get('$filter');
  let users = Object.values(dir.users);
  if (filterSrc) {
    let node;
    try {
      node = parseFilter(filterSrc, (p) => ALL_USER_PROPS.has(p.toLowerCase()) || p.toLowerCase().startsWith('extension_'));
    } catch (e) {
      if (e instanceof ODataFilterError) {
        const unknown = (e as { unknownProperty?: string }).unknownProperty;
        throw unknown ? bad(`Could not find a property named '${unknown}' on type 'microsoft.graph.user'.`, 'BadRequest') : bad(`Invalid filter clause: ${e.message}`, 'BadRequest');
      }
      throw e;
    }
    users = users.filter((u) => evalFilter(node, userResource(u)));
  }
  const orderby = q.get('$orderby');
  if (orderby) {
    const [prop, dirn] = orderby.trim().split(/\s+/);
    if (!ALL_USER_PROPS.has(prop.toLowerCase())) throw bad(`Could not find a property named '${prop}' on type 'microsoft.graph.user'.`, 'BadRequest');
    const sign = (dirn ?? 'asc').toLowerCase() === 'desc' ? -1 : 1;
    users.sort((a, b) => sign * String(userResource(a)[prop] ?? '').localeCompare(String(userResource(b)[prop] ?? '')));
  } else users.sort((a, b) => a.id.localeCompare(b.id));
  const offset = pageOffset(q);
  const page = users.slice(offset, offset + top);
  const select = q.get('$select');
  const body: Record<string, unknown> = { '@odata.context': `${base}/$metadata#users${select ? `(${select})` : ''}` };
  if (q.get('$count') === 'true') body['@odata.count'] = users.length;
  body.value = page.map((u) => present(u, select));
  if (offset + top < users.length) {
    const parts: string[] = [];
    for (const k of ['$filter', '$select', '$top', '$orderby', '$count']) {
      const v = q.get(k);
      if (v !== null) parts.push(`${k}=${encodeURIComponent(v)}`);
    }
    parts.push(`$skiptoken=${Buffer.from(JSON.stringify({ o: offset + top })).toString('base64url')}`);
    body['@odata.nextLink'] = `${base}/users?${parts.join('&')}`;
  }
  send(ctx, 200, body);
}

const UPN_LOCAL = /^[A-Za-z0-9._'~!#^{}&$%*+=?`|-]{1,113}$/;

function validateUpn(state: EmulatorState, tenantId: string, dir: TenantDirectory, upn: unknown, selfId?: string): string {
  if (typeof upn !== 'string' || !upn) throw bad("Invalid value specified for property 'userPrincipalName' of resource 'User'.");
  const at = upn.lastIndexOf('@');
  if (at <= 0 || !UPN_LOCAL.test(upn.slice(0, at)) || upn.startsWith('.') || upn.slice(0, at).endsWith('.')) throw bad("Invalid value specified for property 'userPrincipalName' of resource 'User'.");
  const domain = upn.slice(at + 1).toLowerCase();
  if (domain !== state.tenants[tenantId]?.name.toLowerCase()) throw bad('The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.');
  if (Object.values(dir.users).some((u) => u.id !== selfId && u.userPrincipalName.toLowerCase() === upn.toLowerCase())) throw bad('Another object with the same value for property userPrincipalName already exists.');
  return upn;
}

function applyProps(user: GraphUser, body: Record<string, unknown>, state: EmulatorState, tenantId: string, dir: TenantDirectory): void {
  for (const [k, v] of Object.entries(body)) {
    if (k.startsWith('@odata')) continue;
    switch (k) {
      case 'accountEnabled':
        if (typeof v !== 'boolean') throw bad("Invalid value specified for property 'accountEnabled' of resource 'User'.");
        user.accountEnabled = v;
        break;
      case 'displayName':
        if (typeof v !== 'string' || !v.trim() || v.length > 256) throw bad("Invalid value specified for property 'displayName' of resource 'User'.");
        user.displayName = v;
        break;
      case 'mailNickname':
        if (typeof v !== 'string' || !/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]{1,64}$/.test(v)) throw bad("Invalid value specified for property 'mailNickname' of resource 'User'.");
        user.mailNickname = v;
        break;
      case 'userPrincipalName':
        user.userPrincipalName = validateUpn(state, tenantId, dir, v, user.id);
        break;
      case 'usageLocation':
        // Graph takes an assigned ISO 3166-1 alpha-2 code only ('XX' is refused like 'USA').
        if (v !== null && (typeof v !== 'string' || !/^[A-Za-z]{2}$/.test(v) || !isValidCountry(v))) throw bad("Invalid value specified for property 'usageLocation' of resource 'User'.");
        user.usageLocation = v === null ? null : v.toUpperCase();
        break;
      case 'passwordProfile': {
        if (!isObject(v)) throw bad("Invalid value specified for property 'passwordProfile' of resource 'User'.");
        const pw = v.password;
        if (pw !== undefined) {
          if (typeof pw !== 'string' || !passwordComplies(pw)) throw bad('The specified password does not comply with password complexity requirements. Please provide a different password.');
          user.passwordHash = hashPassword(pw);
        }
        if (v.forceChangePasswordNextSignIn !== undefined) user.forceChangePasswordNextSignIn = v.forceChangePasswordNextSignIn === true;
        break;
      }
      case 'onPremisesExtensionAttributes': {
        if (!isObject(v)) throw bad("Invalid value specified for property 'onPremisesExtensionAttributes' of resource 'User'.");
        for (const [ek, ev] of Object.entries(v)) {
          const mm = /^extensionAttribute([1-9]|1[0-5])$/.exec(ek);
          if (!mm || (ev !== null && typeof ev !== 'string')) throw bad(`Invalid value specified for property 'onPremisesExtensionAttributes' of resource 'User'.`);
          user.extensionAttributes[ek] = ev;
        }
        break;
      }
      case 'businessPhones':
      case 'otherMails':
        if (!Array.isArray(v)) throw bad(`Invalid value specified for property '${k}' of resource 'User'.`);
        break;
      default:
        if (STRING_PROPS.includes(k)) {
          if (v !== null && typeof v !== 'string') throw bad(`Invalid value specified for property '${k}' of resource 'User'.`);
          user.props[k] = v;
        } else if (/^extension_[0-9a-f]{32}_\w+$/i.test(k)) {
          if (v !== null && !['string', 'number', 'boolean'].includes(typeof v)) throw bad(`Invalid value specified for property '${k}' of resource 'User'.`);
          user.props[k] = v as string | number | boolean | null;
        } else {
          throw new GraphError(400, 'BadRequest', `The property '${k.slice(0, 100)}' does not exist on type 'microsoft.graph.user'. Make sure to only use property names that are defined by the type or mark the type as open type.`);
        }
    }
  }
}

/** POST /users: validates required properties, password policy, UPN domain and uniqueness. */
function createUser(state: EmulatorState, tenantId: string, dir: TenantDirectory, body: unknown): GraphUser {
  if (!isObject(body)) throw bad('Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.', 'BadRequest');
  for (const p of ['accountEnabled', 'displayName', 'mailNickname', 'passwordProfile', 'userPrincipalName']) {
    if (body[p] === undefined || body[p] === null) throw bad(`A value is required for property '${p}' of resource 'User'.`);
  }
  if (!isObject(body.passwordProfile) || typeof body.passwordProfile.password !== 'string') throw bad("A value is required for property 'passwordProfile' of resource 'User'.");
  const u: GraphUser = {
    id: randomUUID(),
    userPrincipalName: '',
    displayName: '',
    mailNickname: '',
    accountEnabled: true,
    usageLocation: null,
    createdDateTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    passwordHash: '',
    forceChangePasswordNextSignIn: true,
    assignedLicenses: [],
    props: {},
    extensionAttributes: {},
  };
  applyProps(u, body, state, tenantId, dir);
  dir.users[u.id] = u;
  return u;
}

/** PATCH /users/{id}: updatable properties only (assignedLicenses goes through assignLicense). */
function patchUser(state: EmulatorState, tenantId: string, dir: TenantDirectory, u: GraphUser, body: unknown): void {
  if (!isObject(body)) throw bad('Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.', 'BadRequest');
  for (const ro of ['id', 'createdDateTime', 'assignedLicenses']) if (ro in body) throw bad(`Property '${ro}' is read-only and cannot be set.`);
  // apply on a copy so a failing property leaves the user unchanged
  const copy: GraphUser = JSON.parse(JSON.stringify(u)) as GraphUser;
  applyProps(copy, body, state, tenantId, dir);
  Object.assign(u, copy);
}

/**
 * POST /users/{id}/assignLicense `{addLicenses: [{skuId, disabledPlans}], removeLicenses: [skuId]}` (both required).
 * Errors (400 Request_BadRequest): missing parameters; unknown skuId; user without usageLocation
 * ("License assignment cannot be done for user with invalid usage location."); no free units
 * ("Subscription with SKU ... does not have any available licenses."); removing a license the user lacks.
 */
function assignLicense(state: EmulatorState, tenantId: string, dir: TenantDirectory, u: GraphUser, body: unknown): void {
  if (!isObject(body)) throw bad('Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.', 'BadRequest');
  const missing = ['addLicenses', 'removeLicenses'].filter((k) => !Array.isArray(body[k]));
  if (missing.length) throw bad(`One or more parameters of the operation 'assignLicense' are missing from the request payload. The missing parameters are: ${missing.join(', ')}.`);
  const adds = body.addLicenses as unknown[];
  const removes = body.removeLicenses as unknown[];
  const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const next = u.assignedLicenses.map((l) => ({ ...l }));
  const removed: string[] = [];
  for (const r of removes) {
    if (typeof r !== 'string' || !guid.test(r)) throw bad("Invalid value specified for property 'removeLicenses' of resource 'User'.");
    const k = r.toLowerCase();
    const i = next.findIndex((l) => l.skuId === k);
    if (i < 0) throw bad(`User does not have a corresponding license for SKU ${k}.`);
    next.splice(i, 1);
    removed.push(k);
  }
  for (const a of adds) {
    if (!isObject(a) || typeof a.skuId !== 'string' || !guid.test(a.skuId)) throw bad("Invalid value specified for property 'skuId' of resource 'AssignedLicense'.");
    const k = a.skuId.toLowerCase();
    const sku = dir.skus[k];
    if (!sku) throw bad(`License ${k} does not correspond to a valid company License.`);
    const disabledPlans = Array.isArray(a.disabledPlans) ? a.disabledPlans.filter((x): x is string => typeof x === 'string').map((x) => x.toLowerCase()) : [];
    if (!u.usageLocation) throw bad('License assignment cannot be done for user with invalid usage location.');
    const existing = next.find((l) => l.skuId === k);
    if (existing) {
      existing.disabledPlans = disabledPlans;
      continue;
    }
    if (consumedUnits(dir, k) >= sku.prepaidUnits.enabled) throw bad(`Subscription with SKU ${k} does not have any available licenses.`);
    next.push({ skuId: k, disabledPlans, assignedAtMs: Date.now() });
  }
  u.assignedLicenses = next;
  for (const k of removed) if (!next.some((l) => l.skuId === k)) purgeUserFromEnvironments(state, tenantId, u.id, k);
}

/**
 * The offset a Graph list request's `$skiptoken` carries (0 without one): the emulator's tokens are
 * base64url JSON `{o: offset}`. @throws GraphError 400 Directory_ExpiredPageToken for a token it did not issue.
 */
function pageOffset(q: URLSearchParams): number {
  const skip = q.get('$skiptoken');
  if (!skip) return 0;
  try {
    const offset = (JSON.parse(Buffer.from(skip, 'base64url').toString('utf8')) as { o: number }).o;
    if (!Number.isInteger(offset) || offset < 0) throw new Error('bad');
    return offset;
  } catch {
    throw bad('The specified page token value has expired and can no longer be included in your request.', 'Directory_ExpiredPageToken');
  }
}
