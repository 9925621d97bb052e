/**
 * Resource providers (ARM REST "Providers", api-version 2025-04-01 as `@azure/arm-resources` 7 sends it):
 * `GET /subscriptions/{s}/providers[/{namespace}]`, `POST .../providers/{namespace}/register|unregister`, for the
 * namespaces the template engine deploys (PROVIDER_CATALOG): registration state, resource types with their
 * locations (display names, e.g. "West Europe"), API versions and capabilities.
 *
 * Per subscription a namespace can be marked NotRegistered / Unregistered, or a resource type unavailable in some
 * locations (control API, ProviderOverride). Deployment validation (and, for these overrides, deployments) then
 * refuses templates that use them: MissingSubscriptionRegistration, LocationNotAvailableForResourceType
 * (providerPreflight). Real ARM registers most namespaces a template names on its own when the caller may register
 * them; a NotRegistered namespace here models the case where it does not. Registration completes at once
 * (Azure shows Registering for a while).
 */
import { send } from '../http';
import { DirectoryError } from '../directory';
import type { ArmErrorInfo, EmulatorState, ProviderOverride, StateStore, Subscription } from '../state';
import { normalizeLocation } from './common';
import { armError } from './errors';
import type { ArmRequest } from './routing';

/** Azure public regions the emulator offers: normalised name and display name. */
export const REGIONS: ReadonlyArray<{ name: string; displayName: string }> = [
  ['eastus', 'East US'], ['eastus2', 'East US 2'], ['southcentralus', 'South Central US'], ['westus2', 'West US 2'], ['westus3', 'West US 3'],
  ['australiaeast', 'Australia East'], ['southeastasia', 'Southeast Asia'], ['northeurope', 'North Europe'], ['swedencentral', 'Sweden Central'],
  ['uksouth', 'UK South'], ['westeurope', 'West Europe'], ['centralus', 'Central US'], ['southafricanorth', 'South Africa North'],
  ['centralindia', 'Central India'], ['eastasia', 'East Asia'], ['japaneast', 'Japan East'], ['koreacentral', 'Korea Central'],
  ['canadacentral', 'Canada Central'], ['francecentral', 'France Central'], ['germanywestcentral', 'Germany West Central'],
  ['italynorth', 'Italy North'], ['norwayeast', 'Norway East'], ['polandcentral', 'Poland Central'], ['switzerlandnorth', 'Switzerland North'],
  ['brazilsouth', 'Brazil South'], ['westus', 'West US'], ['northcentralus', 'North Central US'], ['ukwest', 'UK West'],
].map(([name, displayName]) => ({ name, displayName }));

/** Where a resource type exists: every region, `global` only, or nowhere in particular (tenant/extension types: `[]`). */
type TypeLocations = 'regions' | 'global' | 'none';

interface CatalogType {
  resourceType: string;
  apiVersions: string[];
  locations: TypeLocations;
  capabilities?: string;
}

interface CatalogProvider {
  namespace: string;
  registrationPolicy: 'RegistrationRequired' | 'RegistrationFree';
  resourceTypes: CatalogType[];
}

const NET = ['2024-05-01', '2024-03-01', '2023-11-01', '2023-09-01', '2023-05-01', '2023-04-01', '2022-07-01', '2021-08-01', '2020-11-01'];
const CRP = ['2026-03-01', '2024-11-01', '2024-07-01', '2024-03-01', '2023-09-01', '2023-07-01', '2023-03-01', '2022-11-01', '2022-08-01', '2021-11-01'];
const DISKS = ['2024-03-02', '2023-10-02', '2023-04-02', '2022-07-02'];
const STORAGE = ['2024-01-01', '2023-05-01', '2023-01-01', '2022-09-01', '2021-09-01', '2021-04-01', '2019-06-01'];
const WEB = ['2024-04-01', '2023-12-01', '2023-01-01', '2022-09-01', '2022-03-01', '2021-03-01', '2020-12-01'];
const RES = ['2025-04-01', '2024-11-01', '2024-07-01', '2024-03-01', '2022-09-01', '2021-04-01', '2020-10-01', '2019-10-01'];
const SQL = ['2023-08-01-preview', '2023-05-01-preview', '2021-11-01', '2021-02-01-preview', '2014-04-01'];
const SB = ['2024-01-01', '2022-10-01-preview', '2021-11-01', '2017-04-01'];
const AUTHZ = ['2022-04-01', '2020-10-01-preview', '2018-09-01-preview', '2015-07-01'];
const MOVE = 'CrossResourceGroupResourceMove, CrossSubscriptionResourceMove, SupportsTags, SupportsLocation';
const CHILD = 'None';

const t = (resourceType: string, apiVersions: string[], locations: TypeLocations = 'regions', capabilities?: string): CatalogType => ({ resourceType, apiVersions, locations, capabilities: capabilities ?? (locations === 'regions' && !resourceType.includes('/') ? MOVE : CHILD) });
const p = (namespace: string, resourceTypes: CatalogType[], registrationPolicy: CatalogProvider['registrationPolicy'] = 'RegistrationRequired'): CatalogProvider => ({ namespace, registrationPolicy, resourceTypes });

/** The namespaces and resource types the emulator knows (those its template engine and APIs deal with). */
export const PROVIDER_CATALOG: readonly CatalogProvider[] = [
  p('Microsoft.Resources', [t('deployments', RES, 'regions', 'SupportsLocation'), t('resourceGroups', RES, 'regions', 'SupportsTags, SupportsLocation'), t('deploymentScripts', ['2023-08-01', '2020-10-01']), t('templateSpecs', ['2022-02-01', '2021-05-01']), t('tags', RES, 'none'), t('subscriptions', RES, 'none'), t('providers', RES, 'none'), t('operations', RES, 'none')], 'RegistrationFree'),
  p('Microsoft.Authorization', [t('roleAssignments', AUTHZ, 'none'), t('roleDefinitions', AUTHZ, 'none'), t('locks', ['2020-05-01', '2017-04-01', '2016-09-01'], 'none'), t('policyAssignments', ['2024-04-01', '2023-04-01', '2022-06-01'], 'none')], 'RegistrationFree'),
  p('Microsoft.Compute', [
    t('virtualMachines', CRP), t('virtualMachines/extensions', CRP), t('availabilitySets', CRP), t('virtualMachineScaleSets', CRP), t('disks', DISKS), t('snapshots', DISKS),
    t('images', CRP), t('sshPublicKeys', CRP), t('galleries', ['2024-03-03', '2023-07-03', '2022-03-03']), t('proximityPlacementGroups', CRP),
    t('locations', CRP, 'none'), t('locations/operations', CRP), t('locations/usages', CRP), t('locations/vmSizes', CRP),
  ]),
  p('Microsoft.Network', [
    t('virtualNetworks', NET), t('virtualNetworks/subnets', NET), t('networkInterfaces', NET), t('publicIPAddresses', NET), t('publicIPPrefixes', NET),
    t('networkSecurityGroups', NET), t('networkSecurityGroups/securityRules', NET), t('applicationSecurityGroups', NET), t('loadBalancers', NET),
    t('applicationGateways', NET), t('natGateways', NET), t('routeTables', NET), t('privateEndpoints', NET), t('bastionHosts', NET), t('networkWatchers', NET),
    t('dnszones', ['2018-05-01', '2017-09-01'], 'global'), t('privateDnsZones', ['2024-06-01', '2020-06-01'], 'global'), t('privateDnsZones/virtualNetworkLinks', ['2024-06-01', '2020-06-01'], 'global'),
    t('trafficManagerProfiles', ['2022-04-01', '2018-08-01'], 'global'), t('frontDoors', ['2021-06-01', '2020-05-01'], 'global'),
  ]),
  p('Microsoft.Storage', [t('storageAccounts', STORAGE), t('storageAccounts/blobServices', STORAGE), t('storageAccounts/blobServices/containers', STORAGE), t('storageAccounts/fileServices', STORAGE), t('storageAccounts/fileServices/shares', STORAGE), t('storageAccounts/queueServices', STORAGE), t('storageAccounts/tableServices', STORAGE), t('locations', STORAGE, 'none')]),
  p('Microsoft.Web', [t('sites', WEB), t('sites/slots', WEB), t('sites/config', WEB, 'none'), t('sites/extensions', WEB), t('serverFarms', WEB), t('staticSites', WEB), t('certificates', WEB), t('connections', ['2018-07-01-preview', '2016-06-01'])]),
  p('Microsoft.Logic', [t('workflows', ['2019-05-01', '2018-07-01-preview', '2017-07-01', '2016-06-01']), t('integrationAccounts', ['2019-05-01', '2016-06-01'])]),
  p('Microsoft.KeyVault', [t('vaults', ['2024-11-01', '2023-07-01', '2023-02-01', '2022-07-01', '2021-10-01', '2019-09-01']), t('vaults/secrets', ['2024-11-01', '2023-07-01', '2022-07-01', '2019-09-01']), t('vaults/accessPolicies', ['2024-11-01', '2023-07-01', '2022-07-01', '2019-09-01'])]),
  p('Microsoft.ContainerInstance', [t('containerGroups', ['2024-05-01-preview', '2023-05-01', '2022-09-01', '2021-10-01', '2021-09-01'])]),
  p('Microsoft.Sql', [t('servers', SQL), t('servers/databases', SQL), t('servers/firewallRules', SQL), t('servers/elasticPools', SQL)]),
  p('Microsoft.DocumentDB', [t('databaseAccounts', ['2024-11-15', '2024-08-15', '2023-11-15', '2023-04-15', '2021-10-15'])]),
  p('Microsoft.Cache', [t('redis', ['2024-11-01', '2024-03-01', '2023-08-01', '2023-04-01', '2022-06-01'])]),
  p('Microsoft.ContainerRegistry', [t('registries', ['2023-11-01-preview', '2023-07-01', '2023-01-01-preview', '2022-12-01', '2021-09-01'])]),
  p('Microsoft.ServiceBus', [t('namespaces', SB), t('namespaces/queues', SB), t('namespaces/topics', SB), t('namespaces/authorizationRules', SB)]),
  p('Microsoft.EventHub', [t('namespaces', SB), t('namespaces/eventhubs', SB)]),
  p('Microsoft.Insights', [t('components', ['2020-02-02', '2015-05-01']), t('actionGroups', ['2023-01-01', '2022-06-01'], 'global'), t('metricAlerts', ['2018-03-01'], 'global'), t('scheduledQueryRules', ['2023-03-15-preview', '2021-08-01']), t('diagnosticSettings', ['2021-05-01-preview'], 'none')]),
  p('Microsoft.OperationalInsights', [t('workspaces', ['2023-09-01', '2022-10-01', '2021-06-01', '2020-08-01'])]),
  p('Microsoft.ManagedIdentity', [t('userAssignedIdentities', ['2023-01-31', '2018-11-30'])]),
  p('Microsoft.ApiManagement', [t('service', ['2024-05-01', '2023-09-01-preview', '2022-08-01', '2021-08-01'])]),
];

const REGION_DISPLAY = new Map(REGIONS.map((r) => [r.name, r.displayName]));

/** The catalog entry of a namespace (case-insensitive). */
export function catalogProvider(namespace: string): CatalogProvider | undefined {
  return PROVIDER_CATALOG.find((x) => x.namespace.toLowerCase() === namespace.toLowerCase());
}

function catalogType(provider: CatalogProvider, resourceType: string): CatalogType | undefined {
  return provider.resourceTypes.find((x) => x.resourceType.toLowerCase() === resourceType.toLowerCase());
}

function overrideOf(sub: Subscription, namespace: string): ProviderOverride {
  return sub.providers?.[namespace.toLowerCase()] ?? {};
}

/** Registration state of a namespace in a subscription (Registered unless the control API changed it). */
export function registrationState(sub: Subscription, namespace: string): NonNullable<ProviderOverride['registrationState']> {
  return overrideOf(sub, namespace).registrationState ?? 'Registered';
}

/** Normalised regions where a regional resource type is available in a subscription (catalog minus overrides). */
function availableRegions(sub: Subscription, provider: CatalogProvider, type: CatalogType): string[] {
  const off = new Set(overrideOf(sub, provider.namespace).unavailable?.[type.resourceType.toLowerCase()] ?? []);
  return REGIONS.map((r) => r.name).filter((n) => !off.has(n));
}

/** ARM JSON of a provider in a subscription (ARM REST `Provider`). */
export function providerBody(sub: Subscription, provider: CatalogProvider): Record<string, unknown> {
  return {
    id: `/subscriptions/${sub.id}/providers/${provider.namespace}`,
    namespace: provider.namespace,
    resourceTypes: provider.resourceTypes.map((type) => ({
      resourceType: type.resourceType,
      locations: type.locations === 'regions' ? availableRegions(sub, provider, type).map((n) => REGION_DISPLAY.get(n) ?? n) : type.locations === 'global' ? ['global'] : [],
      apiVersions: type.apiVersions,
      defaultApiVersion: type.apiVersions.find((v) => !v.endsWith('-preview')) ?? type.apiVersions[0],
      capabilities: type.capabilities,
    })),
    registrationState: provider.registrationPolicy === 'RegistrationFree' ? 'Registered' : registrationState(sub, provider.namespace),
    registrationPolicy: provider.registrationPolicy,
  };
}

function invalidNamespace(namespace: string): ReturnType<typeof armError> {
  return armError(404, 'InvalidResourceNamespace', `The resource namespace '${namespace.slice(0, 100)}' is invalid.`);
}

/** `GET /subscriptions/{s}/providers` (providers.list; `$expand` is accepted and ignored): `{value}`. */
export function listProviders(r: ArmRequest): void {
  send(r.ctx, 200, { value: PROVIDER_CATALOG.map((x) => providerBody(r.sub, x)) });
}

/** `GET /subscriptions/{s}/providers/{namespace}` (providers.get): 404 InvalidResourceNamespace for an unknown namespace. */
export function getProvider(r: ArmRequest): void {
  const provider = catalogProvider(r.params.namespace);
  if (!provider) throw invalidNamespace(r.params.namespace);
  send(r.ctx, 200, providerBody(r.sub, provider));
}

/** `POST .../providers/{namespace}/register` (providers.register): Registered at once; `.../unregister`: Unregistered. */
export function registerProvider(r: ArmRequest): void {
  const provider = catalogProvider(r.params.namespace);
  if (!provider) throw invalidNamespace(r.params.namespace);
  const unregister = r.ctx.segments[r.ctx.segments.length - 1].toLowerCase() === 'unregister';
  const all = (r.sub.providers ??= {});
  const o = (all[provider.namespace.toLowerCase()] ??= {});
  o.registrationState = unregister ? 'Unregistered' : 'Registered';
  r.arm.deps.store.changed();
  send(r.ctx, 200, providerBody(r.sub, provider));
}

/** RBAC action of a provider request: `Microsoft.Resources/subscriptions/providers/read`, or `{namespace}/register|unregister/action`. */
export function providerAction(r: ArmRequest): string {
  if (r.category === 'reads') return 'Microsoft.Resources/subscriptions/providers/read';
  const last = r.ctx.segments[r.ctx.segments.length - 1].toLowerCase();
  return `${r.params.namespace}/${last === 'unregister' ? 'unregister' : 'register'}/action`;
}

// ---------------------------------------------------------------- preflight

/** A resource a deployment would create, as the preflight sees it. */
export interface PreflightResource {
  id: string;
  type: string;
  location?: string;
  apiVersion?: string;
}

/**
 * What Resource Manager's preflight says about a deployment's resources, as error details (empty = fine):
 * MissingSubscriptionRegistration (namespace NotRegistered/Unregistered), LocationNotAvailableForResourceType
 * (a type unavailable in the resource's location) and, with `catalog` (validation), InvalidResourceNamespace /
 * InvalidResourceType for namespaces and types the emulator does not know, and locations that are not regions
 * of the type. Without `catalog` (deployments) only the control API's overrides refuse anything, so templates
 * with types outside the catalog still deploy as before. Child types are checked by their longest known type.
 */
export function providerPreflight(sub: Subscription, resources: readonly PreflightResource[], catalog: boolean): ArmErrorInfo[] {
  const out: ArmErrorInfo[] = [];
  const reported = new Set<string>();
  const once = (k: string, e: ArmErrorInfo): void => {
    if (reported.has(k)) return;
    reported.add(k);
    out.push(e);
  };
  for (const res of resources) {
    const [ns, ...typeParts] = res.type.split('/');
    if (ns.toLowerCase() === 'microsoft.resources' && typeParts[0]?.toLowerCase() === 'deployments') continue;
    const provider = catalogProvider(ns);
    if (!provider) {
      if (catalog) once(`ns:${ns.toLowerCase()}`, { code: 'InvalidResourceNamespace', message: `The resource namespace '${ns}' is invalid.`, target: res.id });
      continue;
    }
    if (provider.registrationPolicy === 'RegistrationRequired' && registrationState(sub, provider.namespace) !== 'Registered') {
      once(`reg:${provider.namespace}`, { code: 'MissingSubscriptionRegistration', message: `The subscription is not registered to use namespace '${provider.namespace}'. See https://aka.ms/rps-not-found for how to register subscriptions.`, target: provider.namespace });
    }
    let type: CatalogType | undefined;
    for (let n = typeParts.length; n >= 1 && !type; n--) type = catalogType(provider, typeParts.slice(0, n).join('/'));
    if (!type) {
      if (catalog) once(`type:${res.type.toLowerCase()}`, { code: 'InvalidResourceType', message: `The resource type '${typeParts.join('/')}' could not be found in the namespace '${provider.namespace}' for api version '${res.apiVersion ?? ''}'.`, target: res.id });
      continue;
    }
    if (!res.location || type.locations === 'none') continue;
    const loc = normalizeLocation(res.location);
    const fullType = `${provider.namespace}/${type.resourceType}`;
    if (type.locations === 'global') {
      if (catalog && loc !== 'global') once(`loc:${fullType}:${loc}`, { code: 'LocationNotAvailableForResourceType', message: `The provided location '${res.location}' is not available for resource type '${fullType}'. List of available regions for the resource type is 'global'.`, target: res.id });
      continue;
    }
    const available = availableRegions(sub, provider, type);
    const explicitlyOff = (overrideOf(sub, provider.namespace).unavailable?.[type.resourceType.toLowerCase()] ?? []).includes(loc);
    if ((catalog && !available.includes(loc)) || explicitlyOff) {
      once(`loc:${fullType}:${loc}`, { code: 'LocationNotAvailableForResourceType', message: `The provided location '${res.location}' is not available for resource type '${fullType}'. List of available regions for the resource type is '${available.join(',')}'.`, target: res.id });
    }
  }
  return out;
}

// ---------------------------------------------------------------- control API

/** What the control API may change about a namespace in a subscription. */
export interface ProviderSettings {
  registrationState?: 'Registered' | 'NotRegistered' | 'Unregistered';
  /** Resource type (e.g. "sites", "virtualMachines") -> locations (display or normalised names) where it is unavailable; replaces the previous map. */
  unavailableLocations?: Record<string, string[]>;
}

/**
 * Changes a namespace's state in a subscription (PATCH /_emulator/subscriptions/{s}/providers/{namespace}):
 * registration state and/or the locations where resource types are unavailable. `reset` drops every override
 * (DELETE). RegistrationFree namespaces (Microsoft.Resources, Microsoft.Authorization) stay Registered.
 * @returns the provider as ARM then shows it.
 * @throws DirectoryError 404 SubscriptionNotFound / InvalidResourceNamespace; 400 InvalidProviderSettings.
 */
export function setProviderSettings(state: EmulatorState, store: StateStore, subscriptionId: string, namespace: string, settings: ProviderSettings | 'reset'): Record<string, unknown> {
  const sub = state.subscriptions[String(subscriptionId).toLowerCase()];
  if (!sub) throw new DirectoryError(404, 'SubscriptionNotFound', `The subscription '${String(subscriptionId).slice(0, 100)}' could not be found.`);
  const provider = catalogProvider(String(namespace));
  if (!provider) throw new DirectoryError(404, 'InvalidResourceNamespace', `The resource namespace '${String(namespace).slice(0, 100)}' is invalid (known: ${PROVIDER_CATALOG.map((x) => x.namespace).join(', ')}).`);
  const k = provider.namespace.toLowerCase();
  if (settings === 'reset') {
    if (sub.providers) delete sub.providers[k];
    store.changed();
    return providerBody(sub, provider);
  }
  const next: ProviderOverride = { ...(sub.providers?.[k] ?? {}) };
  if (settings.registrationState !== undefined) {
    if (!['Registered', 'NotRegistered', 'Unregistered'].includes(settings.registrationState)) throw new DirectoryError(400, 'InvalidProviderSettings', "registrationState must be 'Registered', 'NotRegistered' or 'Unregistered'.");
    next.registrationState = settings.registrationState;
  }
  if (settings.unavailableLocations !== undefined) {
    const u = settings.unavailableLocations;
    if (typeof u !== 'object' || u === null || Array.isArray(u)) throw new DirectoryError(400, 'InvalidProviderSettings', 'unavailableLocations must be an object: { "<resourceType>": ["<location>", ...] }.');
    const map: Record<string, string[]> = {};
    for (const [type, locs] of Object.entries(u)) {
      const ct = catalogType(provider, type);
      if (!ct || ct.locations !== 'regions') throw new DirectoryError(400, 'InvalidProviderSettings', `'${type.slice(0, 100)}' is not a regional resource type of ${provider.namespace} (${provider.resourceTypes.filter((x) => x.locations === 'regions').map((x) => x.resourceType).join(', ')}).`);
      if (!Array.isArray(locs) || locs.some((l) => typeof l !== 'string' || !REGION_DISPLAY.has(normalizeLocation(l)))) throw new DirectoryError(400, 'InvalidProviderSettings', `unavailableLocations.${type} must be an array of regions (e.g. "westeurope" or "West Europe").`);
      map[ct.resourceType.toLowerCase()] = [...new Set(locs.map((l) => normalizeLocation(l)))];
    }
    next.unavailable = map;
  }
  (sub.providers ??= {})[k] = next;
  store.changed();
  return providerBody(sub, provider);
}
