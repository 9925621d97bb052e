import { randomUUID } from 'node:crypto';
import { isObject, jsonBody, send } from '../http';
import { environmentUsers, type DynamicsEnvironment, type DynamicsRoleAssignment, type EnvironmentUser } from './model';
import { ODataHttpError, parseKey, parseSeg, queryList, selectOne, takeFault, type EnvRequest } from './common';

/**
 * F&O OData errors: `{error:{code:"", message:"An error has occurred.", innererror:{message, type, stacktrace}}}`
 * (the AOS puts the useful text in innererror.message).
 */
function fnoError(status: number, message: string, type = 'Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException', headers: Record<string, string | number> = {}): ODataHttpError {
  return new ODataHttpError(status, '', status === 404 ? message : 'An error has occurred.', headers, { message, type, stacktrace: '' });
}

const badQuery = (msg: string): ODataHttpError => fnoError(400, msg, 'Microsoft.OData.ODataException');

/** F&O user id derived from the UPN's alias (F&O user ids are at most 20 characters). */
export function fnoUserId(upn: string): string {
  return upn.split('@')[0].slice(0, 20).toLowerCase();
}

function userRec(env: DynamicsEnvironment, eu: EnvironmentUser): Record<string, unknown> {
  return {
    '@odata.etag': `W/"${eu.id.slice(0, 8)}"`,
    UserID: fnoUserId(eu.user.userPrincipalName),
    UserName: eu.user.displayName,
    Alias: eu.user.userPrincipalName,
    Email: eu.user.userPrincipalName,
    NetworkDomain: 'https://sts.windows.net/',
    Enabled: eu.user.accountEnabled,
    AccountType: 'ClaimsUser',
    Company: env.legalEntity,
    Language: 'en-us',
    ObjectId: eu.user.id,
  };
}
const USER_PROPS = ['UserID', 'UserName', 'Alias', 'Email', 'NetworkDomain', 'Enabled', 'AccountType', 'Company', 'Language', 'ObjectId'];

function roleRec(name: string): Record<string, unknown> {
  return { '@odata.etag': 'W/"1"', SecurityRoleIdentifier: name, SecurityRoleName: name, Description: '', AccessToSensitiveData: 'Yes', UserLicenseType: 'Enterprise' };
}
const ROLE_PROPS = ['SecurityRoleIdentifier', 'SecurityRoleName', 'Description', 'AccessToSensitiveData', 'UserLicenseType'];

const ASSOC_PROPS = ['UserId', 'SecurityRoleIdentifier', 'SecurityRoleName', 'AssignmentStatus', 'AssignmentMode'];
const ORG_PROPS = ['UserId', 'SecurityRoleIdentifier', 'OrganizationId'];

/**
 * Finance and Operations OData (`/data/`) of an operations environment:
 * `SystemUsers` (users appear `syncSeconds` after a licence of the environment's SKU; UserID = UPN alias),
 * `SecurityRoles` (AOT role identifiers), `SecurityUserRoleAssociations` (GET/POST
 * `{UserId, SecurityRoleIdentifier, AssignmentStatus:'Enabled', AssignmentMode:'Manual'}` -> 201; DELETE
 * `(UserId='..',SecurityRoleIdentifier='..')` -> 204), `SecurityUserRoleOrganizations` (restrict a role to
 * legal entities: POST `{UserId, SecurityRoleIdentifier, OrganizationId}`; DELETE by the three keys) and
 * `LegalEntities`. Fault operations: fno.{entity}.{list,get,create,delete}.
 */
export async function handleFno(r: EnvRequest): Promise<void> {
  const { ctx, env } = r;
  const segs = r.rest.filter((x) => x !== '');
  const seg = parseSeg(segs[0] ?? '');
  const set = seg.name;
  const m = ctx.method;
  const q = ctx.query;
  const verb = m === 'GET' ? (seg.key === undefined ? 'list' : 'get') : m === 'POST' ? 'create' : m === 'DELETE' ? 'delete' : m.toLowerCase();
  await takeFault(r.deps, `fno.${set}.${verb}`, (status, retry, code) => new ODataHttpError(status, code ?? '', status === 429 ? 'Too many requests.' : 'An error has occurred.', retry !== undefined ? { 'Retry-After': retry } : {}));
  if (segs.length !== 1) throw fnoError(404, `No HTTP resource was found that matches the request URI '${ctx.path.slice(0, 200)}'.`);
  const users = environmentUsers(r.deps.state, env);
  const byUserId = (uid: string): EnvironmentUser | undefined => users.find((u) => fnoUserId(u.user.userPrincipalName) === uid.toLowerCase());
  const roleByIdent = (ident: string): { id: string; name: string } | undefined => env.roles.find((x) => x.name.toLowerCase() === ident.toLowerCase());
  const live = (): DynamicsRoleAssignment[] => env.roleAssignments.filter((a) => users.some((u) => u.user.id === a.userObjectId));
  const assocRec = (a: DynamicsRoleAssignment): Record<string, unknown> => {
    const u = users.find((x) => x.user.id === a.userObjectId)!;
    const role = env.roles.find((x) => x.id === a.roleId)!;
    return { '@odata.etag': 'W/"1"', UserId: fnoUserId(u.user.userPrincipalName), SecurityRoleIdentifier: role.name, SecurityRoleName: role.name, AssignmentStatus: 'Enabled', AssignmentMode: 'Manual' };
  };
  const ctxUrl = (entity: string, single = false): string => `${r.apiBase}$metadata#${entity}${single ? '/$entity' : ''}`;

  switch (set.toLowerCase()) {
    case 'systemusers': {
      if (m !== 'GET') break;
      const rows = users.map((u) => userRec(env, u));
      if (seg.key === undefined) return send(ctx, 200, { '@odata.context': ctxUrl('SystemUsers'), value: queryList(rows, q, USER_PROPS, ['@odata.etag'], badQuery, 'Microsoft.Dynamics.DataEntities.SystemUser') });
      const k = parseKey(seg.key);
      const id = k.userid ?? k[''] ?? '';
      const row = rows.find((x) => String(x.UserID).toLowerCase() === id.toLowerCase());
      if (!row) throw fnoError(404, `No resource found for SystemUsers with key UserID='${id.slice(0, 40)}'.`);
      return send(ctx, 200, { '@odata.context': ctxUrl('SystemUsers', true), ...selectOne(row, q, ['@odata.etag'], badQuery, 'Microsoft.Dynamics.DataEntities.SystemUser') });
    }
    case 'securityroles': {
      if (m !== 'GET') break;
      const rows = env.roles.map((x) => roleRec(x.name));
      if (seg.key === undefined) return send(ctx, 200, { '@odata.context': ctxUrl('SecurityRoles'), value: queryList(rows, q, ROLE_PROPS, ['@odata.etag'], badQuery, 'Microsoft.Dynamics.DataEntities.SecurityRole') });
      const k = parseKey(seg.key);
      const role = roleByIdent(k.securityroleidentifier ?? k[''] ?? '');
      if (!role) throw fnoError(404, `No resource found for SecurityRoles with the given key.`);
      return send(ctx, 200, { '@odata.context': ctxUrl('SecurityRoles', true), ...selectOne(roleRec(role.name), q, ['@odata.etag'], badQuery, 'Microsoft.Dynamics.DataEntities.SecurityRole') });
    }
    case 'legalentities': {
      if (m !== 'GET') break;
      const rows = [{ '@odata.etag': 'W/"1"', LegalEntityId: env.legalEntity, Name: `${env.legalEntity} (test drive)` }];
      return send(ctx, 200, { '@odata.context': ctxUrl('LegalEntities'), value: queryList(rows, q, ['LegalEntityId', 'Name'], ['@odata.etag'], badQuery, 'Microsoft.Dynamics.DataEntities.LegalEntity') });
    }
    case 'securityuserroleassociations': {
      if (m === 'GET' && seg.key === undefined) return send(ctx, 200, { '@odata.context': ctxUrl('SecurityUserRoleAssociations'), value: queryList(live().map(assocRec), q, ASSOC_PROPS, ['@odata.etag'], badQuery, 'Microsoft.Dynamics.DataEntities.SecurityUserRoleAssociation') });
      if (m === 'POST' && seg.key === undefined) {
        const body = jsonBody(ctx);
        if (!isObject(body) || typeof body.UserId !== 'string' || typeof body.SecurityRoleIdentifier !== 'string') throw fnoError(400, 'UserId and SecurityRoleIdentifier are required.');
        const u = byUserId(body.UserId);
        if (!u) throw fnoError(400, `Write failed for table row of type 'SecurityUserRoleEntity'. Infolog: Error: User ID ${body.UserId.slice(0, 40)} does not exist.`);
        const role = roleByIdent(body.SecurityRoleIdentifier);
        if (!role) throw fnoError(400, `Write failed for table row of type 'SecurityUserRoleEntity'. Infolog: Error: Security role ${body.SecurityRoleIdentifier.slice(0, 80)} does not exist.`);
        if (body.AssignmentStatus !== undefined && body.AssignmentStatus !== 'Enabled') throw fnoError(400, `Only AssignmentStatus 'Enabled' is supported by the emulator.`);
        if (env.roleAssignments.some((a) => a.userObjectId === u.user.id && a.roleId === role.id)) throw fnoError(400, `Write failed for table row of type 'SecurityUserRoleEntity'. Infolog: Error: Cannot create a record in Security user role (SecurityUserRole). The record already exists.`);
        const a: DynamicsRoleAssignment = { id: randomUUID(), userObjectId: u.user.id, roleId: role.id, organizations: [], assignedAt: new Date().toISOString() };
        env.roleAssignments.push(a);
        r.deps.store.changed();
        return send(ctx, 201, { '@odata.context': ctxUrl('SecurityUserRoleAssociations', true), ...assocRec(a) });
      }
      if (m === 'DELETE' && seg.key !== undefined) {
        const k = parseKey(seg.key);
        const u = byUserId(k.userid ?? '');
        const role = roleByIdent(k.securityroleidentifier ?? '');
        const a = u && role ? env.roleAssignments.find((x) => x.userObjectId === u.user.id && x.roleId === role.id) : undefined;
        if (!a) throw fnoError(404, 'No resource found for SecurityUserRoleAssociations with the given key.');
        env.roleAssignments = env.roleAssignments.filter((x) => x !== a);
        r.deps.store.changed();
        return send(ctx, 204);
      }
      break;
    }
    case 'securityuserroleorganizations': {
      const rows = (): Array<Record<string, unknown>> =>
        live().flatMap((a) => {
          const rec = assocRec(a);
          return a.organizations.map((o) => ({ '@odata.etag': 'W/"1"', UserId: rec.UserId, SecurityRoleIdentifier: rec.SecurityRoleIdentifier, OrganizationId: o }));
        });
      if (m === 'GET' && seg.key === undefined) return send(ctx, 200, { '@odata.context': ctxUrl('SecurityUserRoleOrganizations'), value: queryList(rows(), q, ORG_PROPS, ['@odata.etag'], badQuery, 'Microsoft.Dynamics.DataEntities.SecurityUserRoleOrganization') });
      const find = (uid: string, ident: string): DynamicsRoleAssignment | undefined => {
        const u = byUserId(uid);
        const role = roleByIdent(ident);
        return u && role ? env.roleAssignments.find((x) => x.userObjectId === u.user.id && x.roleId === role.id) : undefined;
      };
      if (m === 'POST' && seg.key === undefined) {
        const body = jsonBody(ctx);
        if (!isObject(body) || typeof body.UserId !== 'string' || typeof body.SecurityRoleIdentifier !== 'string' || typeof body.OrganizationId !== 'string') throw fnoError(400, 'UserId, SecurityRoleIdentifier and OrganizationId are required.');
        const a = find(body.UserId, body.SecurityRoleIdentifier);
        if (!a) throw fnoError(400, `Write failed for table row of type 'SecurityUserRoleOrganizationEntity'. Infolog: Error: The role ${body.SecurityRoleIdentifier.slice(0, 80)} is not assigned to user ${body.UserId.slice(0, 40)}.`);
        const org = body.OrganizationId.toUpperCase();
        if (org !== env.legalEntity) throw fnoError(400, `Write failed for table row of type 'SecurityUserRoleOrganizationEntity'. Infolog: Error: Legal entity ${org.slice(0, 10)} does not exist.`);
        if (a.organizations.includes(org)) throw fnoError(400, `Write failed for table row of type 'SecurityUserRoleOrganizationEntity'. Infolog: Error: The record already exists.`);
        a.organizations.push(org);
        r.deps.store.changed();
        return send(ctx, 201, { '@odata.context': ctxUrl('SecurityUserRoleOrganizations', true), '@odata.etag': 'W/"1"', UserId: body.UserId.toLowerCase(), SecurityRoleIdentifier: body.SecurityRoleIdentifier, OrganizationId: org });
      }
      if (m === 'DELETE' && seg.key !== undefined) {
        const k = parseKey(seg.key);
        const a = find(k.userid ?? '', k.securityroleidentifier ?? '');
        const org = (k.organizationid ?? '').toUpperCase();
        if (!a || !a.organizations.includes(org)) throw fnoError(404, 'No resource found for SecurityUserRoleOrganizations with the given key.');
        a.organizations = a.organizations.filter((o) => o !== org);
        r.deps.store.changed();
        return send(ctx, 204);
      }
      break;
    }
    default:
      throw fnoError(404, `No HTTP resource was found that matches the request URI '${ctx.path.slice(0, 200)}'.`);
  }
  throw fnoError(405, `The requested resource does not support http method '${m}'.`);
}
