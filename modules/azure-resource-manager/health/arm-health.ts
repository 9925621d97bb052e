import { Injectable, Logger } from '@nestjs/common';
import type { TokenCredential } from '@azure/identity';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ComputeManagementClient } from '@azure/arm-compute';
import { AzureRuntime } from '../../../src/azure/azure-runtime';
import { SecretStore } from '../../../src/azure/secret-store';
import { Clock } from '../../../src/common/clock';
import { OfferEntity } from '../../../src/offers/offer.entity';
import { RemoteHttp, trustedCas } from '../../../src/remote/http';
import { classifyRemoteError } from '../../../src/remote/remote-error';
import type { OfferHealth } from '../../../src/test-drives/test-drive-type';
import { jose } from '../../../src/auth/jose';
import { regionLimit, type ArmTestDriveConfig } from '../arm-config';
import { PackageService } from '../packages/package.service';
import { fillParameters } from '../packages/parameter-filler';
import { ArmGateway } from '../arm-gateway';
import { deploymentErrorMessage } from '../provisioning/arm-instance.driver';
import { randomUUID } from 'node:crypto';

/** Built-in roles that may deploy into a subscription (Owner, Contributor). */
export const DEPLOYING_ROLE_DEFINITIONS = new Set(['8e3af657-a8ff-443c-a75c-2fe8c4bcb635', 'b24988ac-6180-42a0-ab88-20f7382dd24c']);
/** A client secret that expires within this is a warning (ms): 30 days (issue 13). */
export const SECRET_EXPIRY_WARNING_MS = 30 * 24 * 3_600_000;
/** Azure's limit of resource groups per subscription is 980 (test drive rules); pools that would pass it are a warning. */
export const RESOURCE_GROUP_LIMIT = 980;
/**
 * Period of the health check of published ARM offers (clock ms): ARM_HEALTH_INTERVAL_SECONDS, default
 * 300 (as Dynamics 365's). @throws Error naming the variable when it is not a whole number 1-86400.
 */
export function armHealthIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.ARM_HEALTH_INTERVAL_SECONDS;
  if (raw === undefined || raw === '') return 300_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 86_400) throw new Error(`ARM_HEALTH_INTERVAL_SECONDS must be a whole number of seconds 1-86400 (got ${JSON.stringify(raw)})`);
  return n * 1000;
}

/** vCPUs assumed per virtual machine of a template when its size cannot be read (a 2-core size is the common test drive choice). */
const CORES_PER_VM = 2;

type Finding = { code: string; message: string; target?: string };

/**
 * The ARM publish preflight and periodic health check (issue 13): what would make test drives of the
 * offer fail, checked against the publisher's subscription, so the publisher learns of it before a
 * customer does. Each check reports a problem (refuses publish; marks a published offer degraded) or a
 * warning; a check that could not run (throttled, unreachable) is a warning, never a false problem:
 * - the package is there (and has virtual machines when warm instances are asked: PackageService.preflight);
 * - the credential gets a token; its client secret is not expired (problem) nor expiring within 30 days
 *   (warning), from Microsoft Graph (the application's passwordCredentials; the secret's hint matches);
 * - the principal holds Owner or Contributor on the subscription (role assignments);
 * - every resource provider the templates use is registered and offers the resource type in each region;
 * - the template validates in each region (ARM's deployment validation in a scratch resource group,
 *   deleted afterwards);
 * - quota: the regional vCPUs cover the templates' virtual machines × (hot + warm + cold) (warning), and
 *   the subscription stays under 980 resource groups with every pool full (warning).
 */
@Injectable()
export class ArmHealthChecker {
  private readonly logger = new Logger('ArmHealthChecker');
  private readonly graphHttp: RemoteHttp;

  constructor(
    private readonly runtime: AzureRuntime,
    private readonly secrets: SecretStore,
    private readonly packages: PackageService,
    private readonly clock: Clock,
    private readonly arm: ArmGateway,
  ) {
    this.graphHttp = new RemoteHttp({ service: 'graph', ca: trustedCas(runtime.endpoints), connections: 4 });
  }

  /** Microsoft Graph's base URL: the emulator's /graph when emulated, else the public cloud's. */
  private get graphBase(): string {
    return this.runtime.endpoints.emulated ? `${this.runtime.endpoints.authorityHost.replace(/\/+$/, '')}/graph` : 'https://graph.microsoft.com';
  }

  /** Runs every check on `offer` (never throws: failures are findings). */
  async check(offer: OfferEntity): Promise<OfferHealth> {
    const problems: Finding[] = [...(await this.packages.preflight(offer))];
    const warnings: Finding[] = [];
    const now = this.clock.now();
    const subscriptionId = offer.deployment.subscriptionId;
    let credential: TokenCredential | undefined;
    let principalId: string | undefined;
    try {
      // A credential of its own, with no cached token: the check must ask the tenant (a revoked secret
      // would hide behind a cached token for up to an hour), and the pools' credential stays untouched.
      if (!offer.clientSecretName || !offer.clientSecretVersion) throw Object.assign(new Error('The offer has no client secret.'), { code: 'ClientSecretMissing' });
      credential = this.runtime.credential(offer.deployment.tenantId, offer.deployment.clientId, await this.secrets.get(offer.clientSecretName, offer.clientSecretVersion));
      const token = await credential.getToken(this.runtime.armScope);
      if (!token) throw new Error('no token');
      principalId = jose.decodeJwt(token.token).oid as string | undefined;
    } catch (err) {
      const e = classifyRemoteError(err, 'token');
      if (e.kind === 'credential' || e.kind === 'denied') {
        problems.push({ code: 'CredentialRefused', target: 'deployment.clientSecret', message: `The app registration ${offer.deployment.clientId} was refused a token by tenant ${offer.deployment.tenantId}: ${e.message.slice(0, 300)} Renew the client secret and PUT the offer with deployment.clientSecret.` });
      } else warnings.push({ code: 'PreflightIncomplete', target: 'deployment', message: `The credential could not be checked now (${e.code}); it is checked again later.` });
      credential = undefined;
    }
    if (credential && subscriptionId) {
      await this.secretExpiry(offer, credential, now, problems, warnings);
      await this.role(offer, credential, subscriptionId, principalId, problems, warnings);
      await this.providersAndQuota(offer, credential, subscriptionId, problems, warnings);
      // ARM's own validation needs a principal that may deploy and providers that are there.
      if (!problems.length) await this.validateInRegions(offer, credential, subscriptionId, problems, warnings);
    }
    return { status: problems.length ? 'degraded' : 'healthy', problems, warnings, checkedAt: new Date(now).toISOString() };
  }

  private async secretExpiry(offer: OfferEntity, credential: TokenCredential, now: number, problems: Finding[], warnings: Finding[]): Promise<void> {
    try {
      const token = await credential.getToken('https://graph.microsoft.com/.default');
      const a = await this.graphHttp.send('GET', `${this.graphBase}/v1.0/applications(appId='${offer.deployment.clientId}')?$select=passwordCredentials`, { headers: { authorization: `Bearer ${token!.token}` } });
      if (a.status === 403) {
        warnings.push({ code: 'SecretExpiryUnknown', target: 'deployment.clientId', message: "The app cannot read its own application object in Microsoft Graph (Application.Read.All): the client secret's expiry is not checked." });
        return;
      }
      if (a.status !== 200) throw Object.assign(new Error(`Graph answered ${a.status}`), { statusCode: a.status });
      const creds = ((a.body as { passwordCredentials?: Array<{ endDateTime?: string; hint?: string }> }).passwordCredentials ?? []).filter((c) => c.endDateTime);
      const secret = offer.clientSecretName && offer.clientSecretVersion ? await this.secrets.get(offer.clientSecretName, offer.clientSecretVersion) : '';
      const mine = creds.filter((c) => c.hint && secret.startsWith(c.hint));
      const relevant = mine.length ? mine : creds;
      if (!relevant.length) return;
      const end = Math.max(...relevant.map((c) => Date.parse(c.endDateTime!)));
      const when = new Date(end).toISOString().slice(0, 10);
      if (end <= now) problems.push({ code: 'ClientSecretExpired', target: 'deployment.clientSecret', message: `The client secret expired on ${when}: add a new secret to the app registration and PUT the offer with deployment.clientSecret.` });
      else if (end - now <= SECRET_EXPIRY_WARNING_MS) warnings.push({ code: 'ClientSecretExpiring', target: 'deployment.clientSecret', message: `The client secret expires on ${when} (in ${Math.ceil((end - now) / 86_400_000)} days): renew it before test drives stop.` });
    } catch (err) {
      const e = classifyRemoteError(err, 'graph');
      warnings.push({ code: 'SecretExpiryUnknown', target: 'deployment.clientId', message: `The client secret's expiry could not be read from Microsoft Graph (${e.code}).` });
    }
  }

  private armOptions() {
    return { ...this.runtime.clientOptions, endpoint: this.runtime.endpoints.resourceManagerEndpoint, credentialScopes: [this.runtime.armScope] };
  }

  private async role(offer: OfferEntity, credential: TokenCredential, subscriptionId: string, principalId: string | undefined, problems: Finding[], warnings: Finding[]): Promise<void> {
    try {
      const auth = new AuthorizationManagementClient(credential, subscriptionId, this.armOptions());
      const defs: string[] = [];
      const filter = principalId ? `assignedTo('${principalId}')` : 'atScope()';
      for await (const a of auth.roleAssignments.listForScope(`/subscriptions/${subscriptionId}`, { filter })) {
        if (!principalId || a.principalId === principalId) defs.push(String(a.roleDefinitionId ?? '').split('/').pop()!.toLowerCase());
      }
      if (!defs.some((d) => DEPLOYING_ROLE_DEFINITIONS.has(d))) {
        problems.push({ code: 'PrincipalLacksRole', target: 'deployment.clientId', message: `The app registration ${offer.deployment.clientId} holds neither Owner nor Contributor on subscription ${subscriptionId}: it cannot create resource groups or deploy. Assign it one of them.` });
      }
    } catch (err) {
      const e = classifyRemoteError(err, 'arm');
      if (e.kind === 'denied') {
        problems.push({ code: 'PrincipalLacksRole', target: 'deployment.clientId', message: `The app registration ${offer.deployment.clientId} may not even read role assignments on subscription ${subscriptionId} (${e.code}): assign it Owner or Contributor.` });
      } else warnings.push({ code: 'PreflightIncomplete', target: 'deployment.subscriptionId', message: `Role assignments could not be read now (${e.code}).` });
    }
  }

  private async providersAndQuota(offer: OfferEntity, credential: TokenCredential, subscriptionId: string, problems: Finding[], warnings: Finding[]): Promise<void> {
    const cfg = offer.testDrive as unknown as ArmTestDriveConfig;
    const rev = offer.currentRevisionId ? await this.packages.getRevision(offer.currentRevisionId) : null;
    const types = (rev?.resourceTypes ?? []).filter((t) => !t.startsWith('microsoft.resources/'));
    const regions = cfg.regions ?? [];
    const norm = (s: string) => s.toLowerCase().replace(/\s+/g, '');
    try {
      const resources = new ResourceManagementClient(credential, subscriptionId, this.armOptions());
      const byNamespace = new Map<string, { state: string; types: Map<string, string[]> }>();
      for await (const p of resources.providers.list()) {
        byNamespace.set(String(p.namespace ?? '').toLowerCase(), {
          state: String(p.registrationState ?? ''),
          types: new Map((p.resourceTypes ?? []).map((rt) => [String(rt.resourceType ?? '').toLowerCase(), (rt.locations ?? []).map(norm)])),
        });
      }
      for (const t of types) {
        const [ns, ...rest] = t.split('/');
        const provider = byNamespace.get(ns);
        if (!provider || provider.state.toLowerCase() !== 'registered') {
          problems.push({ code: 'ResourceProviderNotRegistered', target: 'deployment.subscriptionId', message: `The template uses ${t}, but resource provider ${ns} is ${provider ? provider.state || 'not registered' : 'not registered'} in subscription ${subscriptionId}: register it.` });
          continue;
        }
        const locations = provider.types.get(rest.join('/'));
        if (!locations || !locations.length) continue; // global or unknown type: nothing to check per region
        regions.forEach((r, i) => {
          if (!locations.includes(norm(r.name))) problems.push({ code: 'ResourceTypeNotAvailable', target: `testDrive.regions[${i}].name`, message: `${t} is not available in ${r.name} for subscription ${subscriptionId}.` });
        });
      }
      // 980 resource groups with every pool full.
      let groups = 0;
      for await (const g of resources.resourceGroups.list()) if (g) groups++;
      const want = regions.reduce((n, r) => n + regionLimit(r), 0);
      if (groups + want > RESOURCE_GROUP_LIMIT) warnings.push({ code: 'ResourceGroupQuota', target: 'testDrive.regions', message: `The subscription has ${groups} resource groups; full pools add up to ${want} more, past Azure's ${RESOURCE_GROUP_LIMIT}.` });
    } catch (err) {
      const e = classifyRemoteError(err, 'arm');
      warnings.push({ code: 'PreflightIncomplete', target: 'deployment.subscriptionId', message: `Resource providers could not be checked now (${e.code}).` });
    }
    const vms = rev?.virtualMachines ?? 0;
    if (!vms) return;
    try {
      const compute = new ComputeManagementClient(credential, subscriptionId, { ...this.runtime.clientOptions, endpoint: this.runtime.endpoints.resourceManagerEndpoint });
      for (const [i, r] of regions.entries()) {
        const need = vms * CORES_PER_VM * regionLimit(r);
        for await (const u of compute.usage.list(r.name)) {
          if (u.name?.value !== 'cores') continue;
          const free = Number(u.limit ?? 0) - Number(u.currentValue ?? 0);
          if (need > free) warnings.push({ code: 'QuotaShortfall', target: `testDrive.regions[${i}]`, message: `Region ${r.name}: full pools need about ${need} vCPUs (${vms} VM(s) × ${CORES_PER_VM} × ${regionLimit(r)} instances), ${free} of ${u.limit} are free: ${need - free} short.` });
        }
      }
    } catch (err) {
      const e = classifyRemoteError(err, 'arm');
      warnings.push({ code: 'PreflightIncomplete', target: 'testDrive.regions', message: `vCPU quota could not be read now (${e.code}).` });
    }
  }

  /**
   * ARM's deployment validation of the current package in each region, in a scratch resource group
   * (`CloudTryValidate_<hex>`, tagged `testdrive-purpose: validation`) that is deleted afterwards: a
   * template that ARM refuses in a region (InvalidTemplate, a type not offered there, quota) is a
   * problem naming the region.
   */
  private async validateInRegions(offer: OfferEntity, credential: TokenCredential, subscriptionId: string, problems: Finding[], warnings: Finding[]): Promise<void> {
    const rev = offer.currentRevisionId ? await this.packages.getRevision(offer.currentRevisionId) : null;
    if (!rev) return;
    const client = this.arm.forSubscription(credential, subscriptionId);
    const regions = (offer.testDrive as unknown as ArmTestDriveConfig).regions ?? [];
    for (const [i, r] of regions.entries()) {
      const group = `CloudTryValidate_${randomUUID().replace(/-/g, '')}`;
      try {
        await client.ensureResourceGroup(group, r.name, { 'testdrive-offer-validation': offer.id, 'testdrive-purpose': 'validation' });
        const parameters = fillParameters(rev.parameters, { baseUri: rev.baseUri, sessionId: randomUUID() });
        const refused = await client.validateDeployment(group, 'testdrive-validation', `${rev.baseUri}main-template.json`, parameters);
        if (refused) problems.push({ code: 'TemplateValidationFailed', target: `testDrive.regions[${i}].name`, message: `ARM refuses the template in ${r.name}: ${deploymentErrorMessage(refused, 'Failed').slice(0, 600)}` });
      } catch (err) {
        const e = classifyRemoteError(err, 'arm');
        warnings.push({ code: 'PreflightIncomplete', target: `testDrive.regions[${i}].name`, message: `The template could not be validated in ${r.name} now (${e.code}).` });
      } finally {
        await client.submitResourceGroupDelete(group).catch((err: Error) => this.logger.warn({ offerId: offer.id, group, err: err.message }, 'scratch resource group of the validation not deleted'));
      }
    }
  }

  async close(): Promise<void> {
    await this.graphHttp.close();
  }
}
