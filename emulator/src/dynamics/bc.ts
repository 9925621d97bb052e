import { randomUUID } from 'node:crypto';
import { isObject, jsonBody, send } from '../http';
import { environmentUsers, type DynamicsRoleAssignment, type EnvironmentUser } from './model';
import { ODataHttpError, parseSeg, queryList, selectOne, takeFault, type EnvRequest } from './common';

/** Business Central API error: `{error:{code, message}}`; messages end with "  CorrelationId:  {guid}." like BC's. */
function bcError(status: number, code: string, message: string, headers: Record<string, string | number> = {}): ODataHttpError {
  return new ODataHttpError(status, code, `${message}  CorrelationId:  ${randomUUID()}.`, headers);
}

const badQuery = (msg: string): ODataHttpError => bcError(400, 'BadRequest', msg);
const notFound = (): ODataHttpError => bcError(404, 'BadRequest_NotFound', 'The requested resource could not be found.');

/** BC user name derived from the UPN alias (BC upper-cases user names). */
export function bcUserName(upn: string): string {
  return upn.split('@')[0].toUpperCase();
}

function userRec(eu: EnvironmentUser): Record<string, unknown> {
  return {
    '@odata.etag': `W/"JzQ0O${eu.id.slice(0, 6)}"`,
    userSecurityId: eu.id,
    userName: bcUserName(eu.user.userPrincipalName),
    displayName: eu.user.displayName,
    state: eu.user.accountEnabled ? 'Enabled' : 'Disabled',
    expiryDate: '0001-01-01T00:00:00Z',
    contactEmail: eu.user.userPrincipalName,
    authenticationEmail: eu.user.userPrincipalName,
  };
}
const USER_PROPS = ['userSecurityId', 'userName', 'displayName', 'state', 'expiryDate', 'contactEmail', 'authenticationEmail'];
const PERMSET_PROPS = ['id', 'displayName', 'scope', 'appId', 'extensionName'];
const USERPERM_PROPS = ['id', 'userSecurityId', 'roleId', 'company', 'scope', 'appId', 'displayName', 'extensionName'];
const SYSTEM_APP_ID = '437dbf0e-84ff-417a-965d-ed2bb9650972';

/**
 * Business Central automation API v2.0 (`/api/microsoft/automation/v2.0/`) of a business-central environment:
 * `companies`, `companies({id})/users` (users appear `syncSeconds` after a licence of the environment's SKU),
 * `companies({id})/permissionSets` (the environment's roles = permission set ids),
 * `companies({id})/users({userSecurityId})/userPermissions` (GET; POST `{roleId, company?}` -> 201;
 * DELETE `userPermissions({id})` -> 204). Errors `{error:{code, message}}`: BadRequest_NotFound (404),
 * Internal_RecordNotFound (unknown permission set), Internal_EntityWithSameKeyExists (duplicate), BadRequest.
 * Fault operations: bc.{companies,users,permissionSets,userPermissions}.{list,get,create,delete}.
 */
export async function handleBc(r: EnvRequest): Promise<void> {
  const { ctx, env } = r;
  const segs = r.rest.filter((x) => x !== '');
  const m = ctx.method;
  const q = ctx.query;
  const parsed = segs.map(parseSeg);
  const last = parsed[parsed.length - 1];
  const entity = last?.name ?? '';
  const verb = m === 'GET' ? (last?.key === undefined ? 'list' : 'get') : m === 'POST' ? 'create' : m === 'DELETE' ? 'delete' : m.toLowerCase();
  await takeFault(r.deps, `bc.${entity}.${verb}`, (status, retry, code) => bcError(status, code ?? (status === 429 ? 'Application_TooManyRequests' : 'Internal_ServerError'), status === 429 ? 'The rate limit was exceeded; try again later.' : 'An unexpected error occurred.', retry !== undefined ? { 'Retry-After': retry } : {}));
  const company = { '@odata.etag': 'W/"1"', id: env.company.id, systemVersion: '24.0.0.0', timestamp: 1, name: env.company.name, displayName: env.company.name, businessProfileId: '', systemCreatedAt: env.createdAt, systemCreatedBy: '00000000-0000-0000-0000-000000000001', systemModifiedAt: env.createdAt, systemModifiedBy: '00000000-0000-0000-0000-000000000001' };
  const ctxUrl = (path: string): string => `${r.apiBase}$metadata#${path}`;

  if (parsed[0]?.name !== 'companies') throw notFound();
  if (parsed.length === 1 && m === 'GET') {
    if (last.key === undefined) return send(ctx, 200, { '@odata.context': ctxUrl('companies'), value: queryList([company], q, ['id', 'name', 'displayName', 'systemVersion', 'businessProfileId'], ['@odata.etag'], badQuery, 'Microsoft.NAV.automationCompany') });
    if (last.key.toLowerCase() !== env.company.id) throw notFound();
    return send(ctx, 200, { '@odata.context': ctxUrl('companies/$entity'), ...selectOne(company, q, ['@odata.etag'], badQuery, 'Microsoft.NAV.automationCompany') });
  }
  if ((parsed[0].key ?? '').toLowerCase() !== env.company.id) throw notFound();
  const users = environmentUsers(r.deps.state, env);
  if (parsed[1]?.name === 'permissionSets' && parsed.length === 2 && m === 'GET') {
    const rows = env.roles.map((x) => ({ '@odata.etag': 'W/"1"', id: x.name, displayName: x.name, scope: 'System', appId: SYSTEM_APP_ID, extensionName: 'System Application' }));
    if (parsed[1].key === undefined) return send(ctx, 200, { '@odata.context': ctxUrl(`companies(${env.company.id})/permissionSets`), value: queryList(rows, q, PERMSET_PROPS, ['@odata.etag'], badQuery, 'Microsoft.NAV.permissionSet') });
    const key = parsed[1].key.replace(/^'|'$/g, '');
    const row = rows.find((x) => x.id.toLowerCase() === key.toLowerCase());
    if (!row) throw notFound();
    return send(ctx, 200, { '@odata.context': ctxUrl(`companies(${env.company.id})/permissionSets/$entity`), ...row });
  }
  if (parsed[1]?.name !== 'users') throw notFound();
  if (parsed.length === 2 && m === 'GET') {
    if (parsed[1].key === undefined) return send(ctx, 200, { '@odata.context': ctxUrl(`companies(${env.company.id})/users`), value: queryList(users.map(userRec), q, USER_PROPS, ['@odata.etag'], badQuery, 'Microsoft.NAV.user') });
    const u = users.find((x) => x.id === parsed[1].key?.toLowerCase());
    if (!u) throw notFound();
    return send(ctx, 200, { '@odata.context': ctxUrl(`companies(${env.company.id})/users/$entity`), ...selectOne(userRec(u), q, ['@odata.etag'], badQuery, 'Microsoft.NAV.user') });
  }
  const u = users.find((x) => x.id === (parsed[1].key ?? '').toLowerCase());
  if (!u || parsed[2]?.name !== 'userPermissions' || parsed.length !== 3) throw notFound();
  const permRec = (a: DynamicsRoleAssignment): Record<string, unknown> => ({ '@odata.etag': 'W/"1"', id: a.id, userSecurityId: u.id, roleId: env.roles.find((x) => x.id === a.roleId)?.name ?? '', company: a.organizations[0] ?? '', scope: 'System', appId: SYSTEM_APP_ID, displayName: '', extensionName: '' });
  const mine = (): DynamicsRoleAssignment[] => env.roleAssignments.filter((a) => a.userObjectId === u.user.id);
  const base = `companies(${env.company.id})/users(${u.id})/userPermissions`;
  if (m === 'GET' && parsed[2].key === undefined) return send(ctx, 200, { '@odata.context': ctxUrl(base), value: queryList(mine().map(permRec), q, USERPERM_PROPS, ['@odata.etag'], badQuery, 'Microsoft.NAV.userPermission') });
  if (m === 'GET') {
    const a = mine().find((x) => x.id === parsed[2].key?.toLowerCase());
    if (!a) throw notFound();
    return send(ctx, 200, { '@odata.context': ctxUrl(`${base}/$entity`), ...permRec(a) });
  }
  if (m === 'POST' && parsed[2].key === undefined) {
    const body = jsonBody(ctx);
    if (!isObject(body) || typeof body.roleId !== 'string' || !body.roleId) throw bcError(400, 'BadRequest', "The 'roleId' field is required.");
    const roleIdIn = body.roleId;
    const role = env.roles.find((x) => x.name.toLowerCase() === roleIdIn.toLowerCase());
    if (!role) throw bcError(400, 'Internal_RecordNotFound', `The Permission Set does not exist. Identification fields and values: Role ID='${roleIdIn.slice(0, 40)}'`);
    const comp = typeof body.company === 'string' ? body.company : '';
    if (comp && comp.toLowerCase() !== env.company.name.toLowerCase()) throw bcError(400, 'Internal_RecordNotFound', `The Company does not exist. Identification fields and values: Name='${comp.slice(0, 60)}'`);
    if (mine().some((a) => a.roleId === role.id && (a.organizations[0] ?? '') === comp)) throw bcError(400, 'Internal_EntityWithSameKeyExists', `The record in table Access Control already exists. Identification fields and values: User Security ID='${u.id}',Role ID='${role.name}',Company Name='${comp}',Scope='System',App ID='${SYSTEM_APP_ID}'`);
    const a: DynamicsRoleAssignment = { id: randomUUID(), userObjectId: u.user.id, roleId: role.id, organizations: comp ? [env.company.name] : [], assignedAt: new Date().toISOString() };
    env.roleAssignments.push(a);
    r.deps.store.changed();
    return send(ctx, 201, { '@odata.context': ctxUrl(`${base}/$entity`), ...permRec(a) });
  }
  if (m === 'DELETE' && parsed[2].key !== undefined) {
    const a = mine().find((x) => x.id === parsed[2].key?.toLowerCase());
    if (!a) throw notFound();
    env.roleAssignments = env.roleAssignments.filter((x) => x !== a);
    r.deps.store.changed();
    return send(ctx, 204);
  }
  throw bcError(405, 'BadRequest_MethodNotAllowed', `'${m}' requests for 'userPermissions' are not allowed.`);
}
