/**
 * What the template engine knows about resource providers and regions, for providers() and
 * pickZones(). The data is the emulator's provider catalog (../providers.ts, the one
 * GET /subscriptions/{s}/providers serves); it is loaded on first use (require at call time) so the
 * engine stays free of an import cycle with the REST layer.
 */

/** One resource type as providers() returns it (ARM docs: "providers" — resourceType, locations, apiVersions). */
export interface ProviderTypeInfo {
  resourceType: string;
  locations: string[];
  apiVersions: string[];
}

interface CatalogModule {
  PROVIDER_CATALOG: ReadonlyArray<{ namespace: string; resourceTypes: ReadonlyArray<{ resourceType: string; apiVersions: string[]; locations: 'regions' | 'global' | 'none' }> }>;
  REGIONS: ReadonlyArray<{ name: string; displayName: string }>;
}

let catalog: CatalogModule | undefined;
function load(): CatalogModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  catalog ??= require('../providers') as CatalogModule;
  return catalog;
}

/** A namespace with its types (locations as display names, as ARM's providers() shows them), or undefined when unknown. */
export function providerInfo(namespace: string): { namespace: string; resourceTypes: ProviderTypeInfo[] } | undefined {
  const c = load();
  const p = c.PROVIDER_CATALOG.find((x) => x.namespace.toLowerCase() === namespace.toLowerCase());
  if (!p) return undefined;
  const regions = c.REGIONS.map((r) => r.displayName);
  return {
    namespace: p.namespace,
    resourceTypes: p.resourceTypes.map((t) => ({
      resourceType: t.resourceType,
      locations: t.locations === 'regions' ? [...regions] : t.locations === 'global' ? ['global'] : [],
      apiVersions: [...t.apiVersions],
    })),
  };
}

/** Regions of the emulator's catalog without availability zones (Azure: West US, North Central US, UK West). */
const NON_ZONAL_REGIONS = new Set(['westus', 'northcentralus', 'ukwest']);

/** Zonal resource types (ARM: types whose provider registration lists zoneMappings). Lower-case. */
const ZONAL_TYPES = new Set([
  'microsoft.compute/virtualmachines',
  'microsoft.compute/virtualmachinescalesets',
  'microsoft.compute/disks',
  'microsoft.network/publicipaddresses',
  'microsoft.network/publicipprefixes',
  'microsoft.network/natgateways',
  'microsoft.network/applicationgateways',
  'microsoft.cache/redis',
  'microsoft.containerinstance/containergroups',
  'microsoft.sql/servers/databases',
]);

/** Normalised region name ("West Europe" -> "westeurope"). */
export function normalizeRegion(location: string): string {
  return location.replace(/\s+/g, '').toLowerCase();
}

/** True when the emulator knows `location` as an Azure region. */
export function isKnownRegion(location: string): boolean {
  const n = normalizeRegion(location);
  return load().REGIONS.some((r) => r.name === n);
}

/** Number of availability zones of a type in a region: 3 for zonal types in zonal regions, else 0. */
export function zoneCount(namespace: string, type: string, location: string): number {
  const n = normalizeRegion(location);
  if (!isKnownRegion(n) || NON_ZONAL_REGIONS.has(n)) return 0;
  return ZONAL_TYPES.has(`${namespace}/${type}`.toLowerCase()) ? 3 : 0;
}
