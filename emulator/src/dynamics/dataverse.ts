import { randomUUID } from 'node:crypto';
import { header, isObject, jsonBody, send } from '../http';
import { environmentUsers, type DynamicsEnvironment, type EnvironmentUser } from './model';
import { handleLeads } from './dataverse-leads';
import { ODataHttpError, parseSeg, queryList, selectOne, takeFault, type EnvRequest } from './common';

/**
 * Dataverse service-protection limit (learn.microsoft.com "Service protection API limits"): 6,000 requests
 * per user (here: per calling app) per 5-minute sliding window; above it 429 with code 0x80072322.
 */
export const DATAVERSE_REQUESTS_PER_WINDOW = 6000;
/** Window of the Dataverse request limit, in seconds. */
export const DATAVERSE_WINDOW_SECONDS = 300;

const windows = new WeakMap<DynamicsEnvironment, Map<string, number[]>>();

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Dataverse error: HTTP status + hex error code (e.g. 0x80040217 = object does not exist). */
function dvError(status: number, code: string, message: string, headers: Record<string, string | number> = {}): ODataHttpError {
  return new ODataHttpError(status, code, message, headers);
}

const badQuery = (msg: string): ODataHttpError => dvError(400, '0x80060888', msg);

function throttle(r: EnvRequest): void {
  let m = windows.get(r.env);
  if (!m) windows.set(r.env, (m = new Map()));
  const now = Date.now();
  const list = (m.get(r.claims.oid) ?? []).filter((t) => t > now - DATAVERSE_WINDOW_SECONDS * 1000);
  if (list.length >= DATAVERSE_REQUESTS_PER_WINDOW) {
    const retry = Math.max(1, Math.ceil((list[0] + DATAVERSE_WINDOW_SECONDS * 1000 - now) / 1000));
    m.set(r.claims.oid, list);
    throw dvError(429, '0x80072322', `Number of requests exceeded the limit of ${DATAVERSE_REQUESTS_PER_WINDOW} over time window of ${DATAVERSE_WINDOW_SECONDS} seconds.`, { 'Retry-After': retry });
  }
  list.push(now);
  m.set(r.claims.oid, list);
}

function systemUser(env: DynamicsEnvironment, eu: EnvironmentUser): Record<string, unknown> {
  const u = eu.user;
  const first = typeof u.props.givenName === 'string' ? u.props.givenName : null;
  const last = typeof u.props.surname === 'string' ? u.props.surname : null;
  return {
    '@odata.etag': `W/"${Date.parse(eu.syncedAt) % 100000000}"`,
    systemuserid: eu.id,
    fullname: u.displayName,
    firstname: first,
    lastname: last,
    domainname: u.userPrincipalName,
    internalemailaddress: u.userPrincipalName,
    azureactivedirectoryobjectid: u.id,
    isdisabled: !u.accountEnabled,
    islicensed: true,
    accessmode: 0,
    applicationid: null,
    _businessunitid_value: env.businessUnit.id,
    createdon: eu.syncedAt,
  };
}
const SYSTEMUSER_PROPS = ['systemuserid', 'fullname', 'firstname', 'lastname', 'domainname', 'internalemailaddress', 'azureactivedirectoryobjectid', 'isdisabled', 'islicensed', 'accessmode', 'applicationid', '_businessunitid_value', 'createdon'];

function roleRec(env: DynamicsEnvironment, roleId: string): Record<string, unknown> | undefined {
  const r = env.roles.find((x) => x.id === roleId);
  if (!r) return undefined;
  return { '@odata.etag': 'W/"1"', roleid: r.id, name: r.name, _businessunitid_value: r.businessUnitId, _parentrootroleid_value: r.id, roleidunique: r.id, ismanaged: false, isinherited: 1 };
}
const ROLE_PROPS = ['roleid', 'name', '_businessunitid_value', '_parentrootroleid_value', 'roleidunique', 'ismanaged', 'isinherited'];

function buRec(env: DynamicsEnvironment): Record<string, unknown> {
  return { '@odata.etag': 'W/"1"', businessunitid: env.businessUnit.id, name: env.businessUnit.name, _parentbusinessunitid_value: null, isdisabled: false };
}
const BU_PROPS = ['businessunitid', 'name', '_parentbusinessunitid_value', 'isdisabled'];

function notExist(entity: string, id: string): ODataHttpError {
  return dvError(404, '0x80040217', `${entity} With Id = ${id.slice(0, 100)} Does Not Exist`);
}

function guidKey(entity: string, key: string | undefined): string {
  const k = (key ?? '').trim();
  if (!GUID.test(k)) throw dvError(400, '0x80060888', `Bad Request - Error in query syntax. The key value '${k.slice(0, 100)}' of ${entity} is not a valid Guid.`);
  return k.toLowerCase();
}

/** Roles of the user (id = systemuserid), as role records. */
function rolesOf(env: DynamicsEnvironment, oid: string): Array<Record<string, unknown>> {
  return env.roleAssignments.filter((a) => a.userObjectId === oid).map((a) => roleRec(env, a.roleId)).filter((x): x is Record<string, unknown> => !!x);
}

function pageOf(r: EnvRequest, entitySet: string, rows: Array<Record<string, unknown>>, select: string | null): void {
  const prefer = header(r.ctx.req, 'prefer') ?? '';
  const m = /odata\.maxpagesize=(\d+)/i.exec(prefer);
  const size = m ? Math.max(1, Math.min(5000, Number(m[1]))) : 5000;
  const skip = Number(r.ctx.query.get('$skiptoken') ?? '0') || 0;
  const page = rows.slice(skip, skip + size);
  const body: Record<string, unknown> = { '@odata.context': `${r.apiBase}$metadata#${entitySet}${select ? `(${select})` : ''}`, value: page };
  if (skip + size < rows.length) {
    const q = new URLSearchParams(r.ctx.query);
    q.set('$skiptoken', String(skip + size));
    body['@odata.nextLink'] = `${r.apiBase}${entitySet}?${q.toString()}`;
  }
  send(r.ctx, 200, body, m ? { 'Preference-Applied': `odata.maxpagesize=${size}` } : {});
}

/**
 * Dataverse Web API (v9.0-9.2) of a customer-engagement environment:
 * `systemusers` (list/get; users appear `syncSeconds` after a licence of the environment's SKU is assigned),
 * `leads` (create, upsert by the alternate key new_testdriveleadid, query, get, delete: dataverse-leads.ts),
 * `systemusers(id)/systemuserroles_association` (GET, POST `/$ref` `{"@odata.id": ".../roles(id)"}` -> 204,
 * DELETE `(roleid)/$ref` or `/$ref?$id=...` -> 204), `roles`, `businessunits`, `WhoAmI`.
 * Errors `{error:{code:'0x…', message}}`: 0x80040217 not found, 0x80060888 bad query/segment,
 * 0x80040237 duplicate association, 429 0x80072322 + Retry-After (6,000 requests / 5 min per caller).
 * Fault operations: dataverse.{systemusers,roles,businessunits}.{list,get}, dataverse.associate,
 * dataverse.disassociate, dataverse.roles.listForUser, dataverse.whoami, dataverse.leads.{list,get,create,upsert,delete}.
 */
export async function handleDataverse(r: EnvRequest): Promise<void> {
  const { ctx, env } = r;
  throttle(r);
  const fault = (op: string): Promise<void> => takeFault(r.deps, `dataverse.${op}`, (status, retry, code) => dvError(status, code ?? (status === 429 ? '0x80072322' : '0x80040216'), status === 429 ? `Number of requests exceeded the limit of ${DATAVERSE_REQUESTS_PER_WINDOW} over time window of ${DATAVERSE_WINDOW_SECONDS} seconds.` : 'An unexpected error occurred.', retry !== undefined ? { 'Retry-After': retry } : {}));
  const segs = r.rest.filter((x) => x !== '');
  const first = parseSeg(segs[0] ?? '');
  const set = first.name.toLowerCase();
  const m = ctx.method;
  const q = ctx.query;

  if ((set === 'whoami' || set === 'whoami()') && segs.length === 1 && m === 'GET') {
    await fault('whoami');
    const userId = (env.systemUserIds[`app:${r.claims.appid ?? r.claims.azp}`] ??= randomUUID());
    return send(ctx, 200, { '@odata.context': `${r.apiBase}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`, BusinessUnitId: env.businessUnit.id, UserId: userId, OrganizationId: env.organizationId });
  }
  if (set === 'systemusers') {
    const users = environmentUsers(r.deps.state, env);
    if (first.key === undefined && segs.length === 1 && m === 'GET') {
      await fault('systemusers.list');
      const rows = queryList(users.map((u) => systemUser(env, u)), q, SYSTEMUSER_PROPS, ['@odata.etag', 'systemuserid'], badQuery, 'Microsoft.Dynamics.CRM.systemuser');
      return pageOf(r, 'systemusers', rows, q.get('$select'));
    }
    if (first.key !== undefined) {
      const id = guidKey('systemuser', first.key);
      const eu = users.find((u) => u.id === id);
      if (segs.length === 1 && m === 'GET') {
        await fault('systemusers.get');
        if (!eu) throw notExist('systemuser', id);
        return send(ctx, 200, { '@odata.context': `${r.apiBase}$metadata#systemusers/$entity`, ...selectOne(systemUser(env, eu), q, ['@odata.etag', 'systemuserid'], badQuery, 'Microsoft.Dynamics.CRM.systemuser') });
      }
      const nav = parseSeg(segs[1] ?? '');
      if (nav.name.toLowerCase() !== 'systemuserroles_association') throw dvError(400, '0x80060888', `Could not find a property named '${nav.name.slice(0, 100)}' on type 'Microsoft.Dynamics.CRM.systemuser'.`);
      if (segs.length === 2 && nav.key === undefined && m === 'GET') {
        await fault('roles.listForUser');
        if (!eu) throw notExist('systemuser', id);
        const rows = queryList(rolesOf(env, eu.user.id), q, ROLE_PROPS, ['@odata.etag', 'roleid'], badQuery, 'Microsoft.Dynamics.CRM.role');
        return send(ctx, 200, { '@odata.context': `${r.apiBase}$metadata#roles`, value: rows });
      }
      const isRef = segs[segs.length - 1] === '$ref';
      if (isRef && segs.length === 3 && nav.key === undefined && m === 'POST') {
        await fault('associate');
        if (!eu) throw notExist('systemuser', id);
        const body = jsonBody(ctx);
        const odataId = isObject(body) ? body['@odata.id'] : undefined;
        if (typeof odataId !== 'string') throw dvError(400, '0x80060891', 'A URI must be provided for the @odata.id property of the entity reference.');
        const mm = /roles\(([^)]+)\)\/?$/i.exec(odataId);
        if (!mm) throw dvError(400, '0x80060888', `The URI '${odataId.slice(0, 200)}' is not a valid reference to a role.`);
        const roleId = guidKey('role', mm[1]);
        const role = env.roles.find((x) => x.id === roleId);
        if (!role) throw notExist('role', roleId);
        if (role.businessUnitId !== env.businessUnit.id) throw dvError(400, '0x80040205', 'The role and the user belong to different business units.');
        if (env.roleAssignments.some((a) => a.userObjectId === eu.user.id && a.roleId === roleId)) throw dvError(400, '0x80040237', 'Cannot insert duplicate key.');
        env.roleAssignments.push({ id: randomUUID(), userObjectId: eu.user.id, roleId, organizations: [], assignedAt: new Date().toISOString() });
        r.deps.store.changed();
        r.deps.log('dataverse: role associated', { env: env.name, userId: eu.user.id, roleId });
        return send(ctx, 204, undefined, { 'OData-Version': '4.0' });
      }
      if (isRef && m === 'DELETE' && ((segs.length === 3 && nav.key !== undefined) || (segs.length === 3 && nav.key === undefined && q.get('$id')))) {
        await fault('disassociate');
        if (!eu) throw notExist('systemuser', id);
        let roleKey = nav.key;
        if (roleKey === undefined) {
          const mm = /roles\(([^)]+)\)\/?$/i.exec(q.get('$id') ?? '');
          roleKey = mm?.[1];
        }
        const roleId = guidKey('role', roleKey);
        if (!env.roles.some((x) => x.id === roleId)) throw notExist('role', roleId);
        env.roleAssignments = env.roleAssignments.filter((a) => !(a.userObjectId === eu.user.id && a.roleId === roleId));
        r.deps.store.changed();
        return send(ctx, 204, undefined, { 'OData-Version': '4.0' });
      }
    }
  }
  if (set === 'roles' && m === 'GET' && segs.length === 1) {
    if (first.key === undefined) {
      await fault('roles.list');
      const rows = queryList(env.roles.map((x) => roleRec(env, x.id)!), q, ROLE_PROPS, ['@odata.etag', 'roleid'], badQuery, 'Microsoft.Dynamics.CRM.role');
      return pageOf(r, 'roles', rows, q.get('$select'));
    }
    await fault('roles.get');
    const id = guidKey('role', first.key);
    const rec = roleRec(env, id);
    if (!rec) throw notExist('role', id);
    return send(ctx, 200, { '@odata.context': `${r.apiBase}$metadata#roles/$entity`, ...selectOne(rec, q, ['@odata.etag', 'roleid'], badQuery, 'Microsoft.Dynamics.CRM.role') });
  }
  if (set === 'businessunits' && m === 'GET' && segs.length === 1) {
    if (first.key === undefined) {
      await fault('businessunits.list');
      const rows = queryList([buRec(env)], q, BU_PROPS, ['@odata.etag', 'businessunitid'], badQuery, 'Microsoft.Dynamics.CRM.businessunit');
      return pageOf(r, 'businessunits', rows, q.get('$select'));
    }
    await fault('businessunits.get');
    const id = guidKey('businessunit', first.key);
    if (id !== env.businessUnit.id) throw notExist('businessunit', id);
    return send(ctx, 200, { '@odata.context': `${r.apiBase}$metadata#businessunits/$entity`, ...selectOne(buRec(env), q, ['@odata.etag', 'businessunitid'], badQuery, 'Microsoft.Dynamics.CRM.businessunit') });
  }
  if (set === 'leads' && (await handleLeads(r, fault, (entitySet, rows, select) => pageOf(r, entitySet, rows, select)))) return;
  if (['systemusers', 'roles', 'businessunits'].includes(set)) throw dvError(405, '0x80060888', `The requested resource does not support http method '${m}'.`);
  throw dvError(404, '0x80060888', `Resource not found for the segment '${first.name.slice(0, 100)}'.`);
}
