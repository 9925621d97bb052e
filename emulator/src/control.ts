import type { Ctx } from './http';
import { controlRequest, send } from './http';
import type { FaultStore, FaultRule } from './faults';
import { validateFaultRule } from './faults';
import { createClient, createPublisher, DirectoryError, setClientSecretEndDateTime } from './directory';
import { applicationResource } from './graph/applications';
import { removeRoleAssignments, roleAssignmentBody, setRoleAssignment } from './arm/authorization';
import { catalogProvider, PROVIDER_CATALOG, providerBody, setProviderSettings } from './arm/providers';
import { computeUsages, setComputeQuota } from './arm/usages';
import { handleIdentityControl } from './directory';
import type { EmulatorState, StateStore, Subscription } from './state';
import type { ArmService } from './arm/arm';

/** Dependencies of the control API. */
export interface ControlDeps {
  state: EmulatorState;
  store: StateStore;
  faults: FaultStore;
  arm: ArmService;
  /** TLS handshakes the server completed (GET /_emulator/stats). */
  tlsHandshakes?: () => number;
}

/** Operator's view of a subscription (GET /_emulator/subscriptions/{id}). */
export function subscriptionSnapshot(sub: Subscription): Record<string, unknown> {
  return {
    subscriptionId: sub.id,
    tenantId: sub.tenantId,
    displayName: sub.displayName,
    roleAssignments: sub.roleAssignments,
    /** Provider overrides (registrationState, unavailable locations) and vCPU limits set through the control API. */
    providers: sub.providers ?? {},
    computeQuotas: sub.computeQuotas ?? {},
    resourceGroups: Object.values(sub.resourceGroups).map((rg) => ({
      name: rg.name,
      location: rg.location,
      tags: rg.tags,
      provisioningState: rg.provisioningState,
      deployments: Object.values(rg.deployments).map((d) => {
        const terminal = d.provisioningState !== 'Accepted' && d.provisioningState !== 'Running';
        return {
          name: d.name,
          provisioningState: d.provisioningState,
          outputs: d.outputs ?? null,
          error: d.error ?? null,
          timestamp: d.timestamp,
          /** seconds */
          duration: ((terminal ? Date.parse(d.timestamp) : Date.now()) - Date.parse(d.createdAt)) / 1000,
        };
      }),
      resources: rg.resources.map((r) => ({ id: r.id, type: r.type, name: r.name, ...(r.vm ? { powerState: r.vm.powerState, provisioningState: r.vm.provisioningState } : {}) })),
    })),
  };
}

function controlError(ctx: Ctx, status: number, code: string, message: string): void {
  send(ctx, status, { error: { code, message } });
}

/**
 * The operator's control API under /_emulator/ (plain JSON, no auth):
 * POST publishers, POST clients (`{tenantId?, newTenant?, roles?, keyVaultAccess?, subscriptionRoles?,
 * redirectUris?, publicClient?, displayName?, signInAudience?}`), GET|PATCH clients/{clientId} (the app registration
 * as Graph returns it; PATCH `{secretEndDateTime}` moves the secret's expiry), GET subscriptions/{id}, GET
 * subscriptions/{id}/role-assignments, DELETE|PUT subscriptions/{id}/role-assignments/{principalId|clientId} (PUT
 * `{role}`; arm/authorization.ts), GET subscriptions/{id}/providers[/{namespace}], PATCH|DELETE
 * subscriptions/{id}/providers/{namespace} (`{registrationState?, unavailableLocations?}`; arm/providers.ts),
 * GET|PUT|DELETE subscriptions/{id}/compute-quotas/{location} (PUT `{cores?, families?}`; arm/usages.ts), GET state, GET|PUT settings
 * (`{deploymentSeconds?, vmStartSeconds?, vmDeallocateSeconds?}`, at least one),
 * GET|PUT|DELETE faults. (Users and redirect URIs: signin.ts; mail: smtp.ts.) Errors: `{ error: { code,
 * message } }` with 400/404/405.
 */
export function handleControl(ctx: Ctx, deps: ControlDeps): void {
  const s = ctx.segments.slice(1).filter((x) => x !== '');
  const m = ctx.method;
  const req = controlRequest(ctx);
  if (!req) return;
  const obj = req.body;
  try {
    const what = s[0] ?? '';
    // API app registrations and signing-key rotation (directory.ts).
    if (what === 'applications' || what === 'keys' || what === 'tokens') return void handleIdentityControl(ctx, deps.state, deps.store).catch(() => controlError(ctx, 500, 'InternalServerError', 'Encountered internal server error.'));
    if (what === 'publishers' && s.length === 1 && m === 'POST') {
      const str = (k: string): string | undefined => (typeof obj[k] === 'string' ? (obj[k]) : undefined);
      return send(ctx, 201, createPublisher(deps.state, deps.store, { tenantName: str('tenantName'), tenantId: str('tenantId'), location: str('location') }));
    }
    if (what === 'clients' && s.length === 1 && m === 'POST') {
      if (obj.roles !== undefined && !Array.isArray(obj.roles)) return controlError(ctx, 400, 'InvalidRoles', 'roles must be an array of strings.');
      if (obj.subscriptionRoles !== undefined && !Array.isArray(obj.subscriptionRoles)) return controlError(ctx, 400, 'InvalidRequestContent', 'subscriptionRoles must be an array.');
      return send(
        ctx,
        201,
        createClient(deps.state, deps.store, {
          tenantId: typeof obj.tenantId === 'string' ? obj.tenantId : undefined,
          newTenant: obj.newTenant === true,
          roles: obj.roles as string[] | undefined,
          keyVaultAccess: typeof obj.keyVaultAccess === 'boolean' ? obj.keyVaultAccess : undefined,
          subscriptionRoles: obj.subscriptionRoles as never,
          redirectUris: obj.redirectUris as string[] | undefined,
          publicClient: typeof obj.publicClient === 'boolean' ? obj.publicClient : undefined,
          signInAudience: obj.signInAudience as 'AzureADMyOrg' | 'AzureADMultipleOrgs' | undefined,
          displayName: obj.displayName as string | undefined,
        }),
      );
    }
    if (what === 'clients' && s.length === 2 && (m === 'GET' || m === 'PATCH')) {
      const app = deps.state.clients[s[1].toLowerCase()];
      if (!app) return controlError(ctx, 404, 'ClientNotFound', `Client '${s[1].slice(0, 100)}' does not exist.`);
      if (m === 'PATCH') {
        if (obj.secretEndDateTime === undefined) return controlError(ctx, 400, 'InvalidRequestContent', 'Give secretEndDateTime (ISO 8601), e.g. {"secretEndDateTime": "2020-01-01T00:00:00Z"}.');
        setClientSecretEndDateTime(deps.state, deps.store, app.clientId, obj.secretEndDateTime);
      }
      return send(ctx, 200, applicationResource(deps.state, deps.store, app));
    }
    if (what === 'subscriptions' && s.length >= 3 && s[2] === 'role-assignments') {
      const sub = deps.state.subscriptions[s[1].toLowerCase()];
      if (!sub) return controlError(ctx, 404, 'SubscriptionNotFound', `The subscription '${s[1].slice(0, 100)}' could not be found.`);
      if (s.length === 3 && m === 'GET') return send(ctx, 200, { value: sub.roleAssignments.map((a) => roleAssignmentBody(sub, a)) });
      if (s.length === 4 && m === 'DELETE') return send(ctx, 200, { removed: removeRoleAssignments(deps.state, deps.store, sub.id, s[3]) });
      if (s.length === 4 && m === 'PUT') return send(ctx, 200, setRoleAssignment(deps.state, deps.store, sub.id, s[3], obj.role));
    }
    if (what === 'subscriptions' && s.length >= 3 && s[2] === 'providers') {
      const sub = deps.state.subscriptions[s[1].toLowerCase()];
      if (!sub) return controlError(ctx, 404, 'SubscriptionNotFound', `The subscription '${s[1].slice(0, 100)}' could not be found.`);
      if (s.length === 3 && m === 'GET') return send(ctx, 200, { value: PROVIDER_CATALOG.map((x) => providerBody(sub, x)) });
      if (s.length === 4 && m === 'GET') {
        const provider = catalogProvider(s[3]);
        return provider ? send(ctx, 200, providerBody(sub, provider)) : controlError(ctx, 404, 'InvalidResourceNamespace', `The resource namespace '${s[3].slice(0, 100)}' is invalid.`);
      }
      if (s.length === 4 && m === 'PATCH') return send(ctx, 200, setProviderSettings(deps.state, deps.store, sub.id, s[3], obj));
      if (s.length === 4 && m === 'DELETE') return send(ctx, 200, setProviderSettings(deps.state, deps.store, sub.id, s[3], 'reset'));
    }
    if (what === 'subscriptions' && s.length === 4 && s[2] === 'compute-quotas') {
      const sub = deps.state.subscriptions[s[1].toLowerCase()];
      if (!sub) return controlError(ctx, 404, 'SubscriptionNotFound', `The subscription '${s[1].slice(0, 100)}' could not be found.`);
      if (m === 'GET') return send(ctx, 200, { value: computeUsages(deps.state, sub.id, s[3]) });
      if (m === 'PUT' || m === 'PATCH') return send(ctx, 200, { value: setComputeQuota(deps.state, deps.store, sub.id, s[3], obj) });
      if (m === 'DELETE') return send(ctx, 200, { value: setComputeQuota(deps.state, deps.store, sub.id, s[3], 'reset') });
    }
    if (what === 'subscriptions' && s.length === 2 && m === 'GET') {
      const sub = deps.state.subscriptions[s[1].toLowerCase()];
      if (!sub) return controlError(ctx, 404, 'SubscriptionNotFound', `The subscription '${s[1].slice(0, 100)}' could not be found.`);
      deps.arm.refresh(sub);
      return send(ctx, 200, subscriptionSnapshot(sub));
    }
    if (what === 'state' && s.length === 1 && m === 'GET') {
      for (const sub of Object.values(deps.state.subscriptions)) deps.arm.refresh(sub);
      return send(ctx, 200, stateSummary(deps.state));
    }
    if (what === 'stats' && s.length === 1 && m === 'GET') {
      // Connections opened by clients (issue 14: a client reusing keep-alive connections opens few).
      return send(ctx, 200, { tlsHandshakes: deps.tlsHandshakes?.() ?? null });
    }
    if (what === 'settings' && s.length === 1) {
      if (m === 'GET') return send(ctx, 200, deps.state.settings);
      if (m === 'PUT' || m === 'PATCH') {
        const names = ['deploymentSeconds', 'vmStartSeconds', 'vmDeallocateSeconds'] as const;
        const given = names.filter((n) => obj[n] !== undefined);
        if (given.length === 0) return controlError(ctx, 400, 'InvalidSettings', 'Give at least one of deploymentSeconds, vmStartSeconds, vmDeallocateSeconds (seconds in [0, 86400]).');
        for (const n of given) {
          const v = obj[n];
          if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 86400) return controlError(ctx, 400, 'InvalidSettings', `${n} must be a number of seconds in [0, 86400].`);
        }
        for (const n of given) deps.state.settings[n] = obj[n] as number;
        deps.store.changed();
        return send(ctx, 200, deps.state.settings);
      }
    }
    if (what === 'faults' && s.length === 1) {
      if (m === 'GET') return send(ctx, 200, { rules: deps.faults.list() });
      if (m === 'DELETE') {
        deps.faults.clear();
        return send(ctx, 204);
      }
      if (m === 'PUT') {
        if (!Array.isArray(obj.rules)) return controlError(ctx, 400, 'InvalidFaults', 'Body must be { rules: [...] }.');
        const rules: FaultRule[] = [];
        for (const r of obj.rules) {
          const v = validateFaultRule(r);
          if (typeof v === 'string') return controlError(ctx, 400, 'InvalidFaults', v);
          rules.push(v);
        }
        return send(ctx, 200, { rules: deps.faults.set(rules) });
      }
    }
    return controlError(ctx, 404, 'NotFound', `No control operation ${m} /_emulator/${s.join('/')}.`);
  } catch (e) {
    if (e instanceof DirectoryError) return controlError(ctx, e.status, e.code, e.message);
    throw e;
  }
}

/** Counts for GET /_emulator/state. */
export function stateSummary(state: EmulatorState): Record<string, unknown> {
  const subs = Object.values(state.subscriptions);
  return {
    serviceTenantId: state.serviceTenantId,
    settings: state.settings,
    tenants: Object.values(state.tenants).map((t) => ({ id: t.id, name: t.name })),
    clients: Object.values(state.clients).map((c) => ({ clientId: c.clientId, tenantId: c.tenantId, kind: c.kind, roles: c.roles, principalId: c.objectId, keyVaultAccess: c.keyVaultAccess, redirectUris: c.redirectUris ?? [], publicClient: c.publicClient === true, signInAudience: c.signInAudience ?? 'AzureADMyOrg' })),
    users: Object.values(state.users ?? {}).map((u) => ({ objectId: u.objectId, tenantId: u.tenantId, userPrincipalName: u.userPrincipalName, roles: u.roles })),
    subscriptions: subs.map((s) => ({
      subscriptionId: s.id,
      tenantId: s.tenantId,
      resourceGroups: Object.keys(s.resourceGroups).length,
      deployments: Object.values(s.resourceGroups).reduce((n, rg) => n + Object.keys(rg.deployments).length, 0),
      runningDeployments: Object.values(s.resourceGroups).reduce((n, rg) => n + Object.values(rg.deployments).filter((d) => d.provisioningState === 'Accepted' || d.provisioningState === 'Running').length, 0),
      resources: Object.values(s.resourceGroups).reduce((n, rg) => n + rg.resources.length, 0),
    })),
    secrets: { active: Object.values(state.secrets).filter((x) => !x.deleted).length, deleted: Object.values(state.secrets).filter((x) => x.deleted).length },
  };
}
