import type { Ctx } from '../http';
import { controlRequest, header, send } from '../http';
import { verifyBearer, type AccessTokenClaims } from '../entra';
import { ODataHttpError, sendODataError, type DynamicsDeps, type EnvRequest } from './common';
import { handleDataverse } from './dataverse';
import { handleFno } from './fno';
import { handleBc } from './bc';
import {
  DynamicsControlError,
  createEnvironment,
  environmentInfo,
  environmentSnapshot,
  findEnvironment,
  instanceUrlOf,
  updateEnvironment,
  type DynamicsEnvironment,
  type DynamicsProduct,
} from './model';

export type { DynamicsDeps } from './common';

/** Token audiences an environment accepts: its instance URL (with/without "/"), for localhost and 127.0.0.1. */
function audiencesOf(ctx: Ctx, env: DynamicsEnvironment): string[] {
  const port = /:(\d+)$/.exec(ctx.baseUrl)?.[1] ?? '';
  const out: string[] = [];
  for (const host of ['localhost', '127.0.0.1', '[::1]']) {
    const u = instanceUrlOf(`https://${host}:${port}`, env);
    out.push(u, `${u}/`);
  }
  return out;
}

function unauthorized(ctx: Ctx, env: DynamicsEnvironment, reason: string): ODataHttpError {
  const instance = instanceUrlOf(ctx.baseUrl, env);
  const www = { 'WWW-Authenticate': `Bearer authorization_uri=${ctx.baseUrl}/${env.tenantId}/oauth2/authorize, resource_id=${instance}/` };
  if (env.product === 'business-central') return new ODataHttpError(401, 'Authentication_InvalidCredentials', `The server has rejected the client credentials. (${reason})`, www);
  // Dataverse and F&O answer 401 with an empty body; the emulator adds a short OData error for debugging.
  return new ODataHttpError(401, '', `Unauthorized: ${reason}`, www);
}

/** Whether the calling app is an application user / registered Entra app of the environment. */
function isApplicationUser(deps: DynamicsDeps, env: DynamicsEnvironment, claims: AccessTokenClaims): boolean {
  const clientId = (claims.appid ?? claims.azp ?? '').toLowerCase();
  if (env.applicationUsers.includes(clientId)) return true;
  const client = deps.state.clients[clientId];
  return env.applicationUser && client?.kind === 'publisher' && client.tenantId === env.tenantId;
}

/**
 * Routes `/dynamics/{env}/...`: Dataverse Web API at `api/data/v9.0|v9.1|v9.2/` (customer-engagement),
 * F&O OData at `data/` (operations), BC automation API at `api/microsoft/automation/v2.0/` (business-central).
 * Every request needs a Bearer token whose `aud` is the environment's instance URL (scope
 * `${instanceUrl}/.default`) and whose `tid` is the environment's tenant (else 401), from an application user
 * of the environment (else 403 for Dataverse `0x80072560` / 401 for F&O and BC, as those reject unregistered apps).
 * Answers carry `OData-Version: 4.0`.
 */
export async function handleDynamics(ctx: Ctx, deps: DynamicsDeps): Promise<void> {
  ctx.res.setHeader('OData-Version', '4.0');
  ctx.res.setHeader('REQ_ID', ctx.requestId);
  const s = ctx.segments;
  const env = findEnvironment(deps.state, s[1] ?? '');
  try {
    if (!env) throw new ODataHttpError(404, 'EnvironmentNotFound', `The Dynamics 365 environment '${(s[1] ?? '').slice(0, 100)}' does not exist.`);
    const rest = s.slice(2);
    const lower = rest.map((x) => x.toLowerCase());
    let product: DynamicsProduct | undefined;
    let apiRootLen = 0;
    if (lower[0] === 'api' && lower[1] === 'data' && /^v9\.[0-2]$/.test(lower[2] ?? '')) {
      product = 'customer-engagement';
      apiRootLen = 3;
    } else if (lower[0] === 'data') {
      product = 'operations';
      apiRootLen = 1;
    } else if (lower[0] === 'api' && lower[1] === 'microsoft' && lower[2] === 'automation' && lower[3] === 'v2.0') {
      product = 'business-central';
      apiRootLen = 4;
    }
    if (!product || product !== env.product) throw new ODataHttpError(404, 'NotFound', `No API at '${ctx.path.slice(0, 200)}' for a ${env.product} environment.`);
    const r = await verifyBearer(deps.keys, header(ctx.req, 'authorization'), audiencesOf(ctx, env));
    if ('failure' in r) throw unauthorized(ctx, env, r.failure === 'audience' ? `invalid audience '${String(r.aud ?? '').slice(0, 200)}'` : r.failure === 'missing' ? 'no bearer token' : `token ${r.failure}`);
    if (r.claims.tid !== env.tenantId) throw unauthorized(ctx, env, 'the token was issued for another tenant');
    if (!isApplicationUser(deps, env, r.claims)) {
      const who = r.claims.appid ?? r.claims.azp;
      if (product === 'customer-engagement') throw new ODataHttpError(403, '0x80072560', `The user is not a member of the organization. (No application user for application id ${who}.)`);
      throw unauthorized(ctx, env, `application ${who} is not registered in the environment`);
    }
    const apiBase = `${instanceUrlOf(ctx.baseUrl, env)}/${rest.slice(0, apiRootLen).join('/')}/`;
    const req: EnvRequest = { ctx, deps, env, claims: r.claims, rest: rest.slice(apiRootLen), apiBase };
    if (product === 'customer-engagement') return await handleDataverse(req);
    if (product === 'operations') return await handleFno(req);
    return await handleBc(req);
  } catch (e) {
    if (e instanceof ODataHttpError) return sendODataError(ctx, e);
    if (e instanceof SyntaxError) return sendODataError(ctx, new ODataHttpError(400, env?.product === 'business-central' ? 'BadRequest' : '0x80060891', 'The request body is not valid JSON.'));
    throw e;
  }
}

/**
 * Control API for Dynamics environments (returns false when the route is not one of these):
 * - `POST /_emulator/dynamics-environments` `{tenantId, product, licenses, roles, name?, syncSeconds?, applicationUser?,
 *   applicationUsers?, legalEntity?, companyName?}` -> 201 environment info
 * - `GET /_emulator/dynamics-environments` -> `{value: [info]}`; `GET .../{name}` -> snapshot (users, licenses, role assignments)
 * - `PATCH .../{name}` `{licenses?, addRoles?, deleteRoles?, syncSeconds?, applicationUser?, applicationUsers?}` -> snapshot
 * - `DELETE .../{name}` -> 204
 * - `PUT|PATCH /_emulator/settings` when the body has `dynamicsSyncSeconds` (deploymentSeconds may come along).
 */
export function handleDynamicsControl(ctx: Ctx, deps: DynamicsDeps): boolean {
  const s = ctx.segments.slice(1).filter((x) => x !== '');
  const what = s[0] ?? '';
  const m = ctx.method;
  if (what !== 'dynamics-environments' && !(what === 'settings' && s.length === 1 && (m === 'PUT' || m === 'PATCH'))) return false;
  const req = controlRequest(ctx);
  if (!req) return true;
  const { fail: err, body: obj } = req;
  if (what === 'settings') {
    if (!('dynamicsSyncSeconds' in obj)) return false;
    const v = obj.dynamicsSyncSeconds;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 86400) return err(400, 'InvalidSettings', 'dynamicsSyncSeconds must be a number of seconds in [0, 86400].');
    if ('deploymentSeconds' in obj) {
      const d = obj.deploymentSeconds;
      if (typeof d !== 'number' || !Number.isFinite(d) || d < 0 || d > 86400) return err(400, 'InvalidSettings', 'deploymentSeconds must be a number of seconds in [0, 86400].');
      deps.state.settings.deploymentSeconds = d;
    }
    deps.state.settings.dynamicsSyncSeconds = v;
    deps.store.changed();
    send(ctx, 200, deps.state.settings);
    return true;
  }
  try {
    if (s.length === 1 && m === 'POST') {
      const env = createEnvironment(deps.state, obj as never);
      deps.store.changed();
      deps.log('dynamics environment created', { name: env.name, product: env.product, tenantId: env.tenantId });
      send(ctx, 201, environmentInfo(deps.state, ctx.baseUrl, env));
      return true;
    }
    if (s.length === 1 && m === 'GET') {
      send(ctx, 200, { value: Object.values(deps.state.dynamicsEnvironments ?? {}).map((e) => environmentInfo(deps.state, ctx.baseUrl, e)) });
      return true;
    }
    if (s.length === 2) {
      const env = findEnvironment(deps.state, s[1]);
      if (!env) return err(404, 'EnvironmentNotFound', `Environment '${s[1].slice(0, 100)}' does not exist.`);
      if (m === 'GET') {
        send(ctx, 200, environmentSnapshot(deps.state, ctx.baseUrl, env));
        return true;
      }
      if (m === 'PATCH') {
        updateEnvironment(deps.state, env, obj);
        deps.store.changed();
        send(ctx, 200, environmentSnapshot(deps.state, ctx.baseUrl, env));
        return true;
      }
      if (m === 'DELETE') {
        delete deps.state.dynamicsEnvironments?.[env.name.toLowerCase()];
        deps.store.changed();
        send(ctx, 204);
        return true;
      }
    }
    return err(404, 'NotFound', `No control operation ${m} /_emulator/${s.join('/')}.`);
  } catch (e) {
    if (e instanceof DynamicsControlError) return err(e.status, e.code, e.message);
    throw e;
  }
}
