import { EvaluatedResource } from './types';
import { armGuid, seedBytes } from './hash';
import { isPlainObject } from './functions';

/** Location as ARM normalizes it in host names: lower-case, no spaces ("West Europe" -> "westeurope"). */
export function normalizeLocation(location: string | undefined, fallback: string): string {
  return (location ?? fallback).replace(/\s+/g, '').toLowerCase();
}

/** A plausible, deterministic public IPv4 (20.x.y.z) derived from a resource id. Emulator rule. */
export function publicIpFor(id: string): string {
  const b = seedBytes(`pip:${id.toLowerCase()}`, 3);
  return `20.${b[0]}.${b[1]}.${(b[2] % 250) + 4}`;
}

/** A deterministic private IPv4 in 10.0.0.0/16 for NIC ipConfiguration `index`. Emulator rule. */
export function privateIpFor(id: string, index: number): string {
  const b = seedBytes(`nic:${id.toLowerCase()}:${index}`, 2);
  return `10.0.${b[0] % 4}.${(b[1] % 250) + 4}`;
}

function obj(v: unknown): Record<string, unknown> {
  return isPlainObject(v) ? { ...v } : {};
}

/**
 * Adds the read-only properties Azure returns for common resource types to the declared
 * `properties` (declared values win where Azure would echo them). Every resource gets
 * provisioningState "Succeeded". Source: the resource providers' REST API GET responses
 * (e.g. Microsoft.Network publicIPAddresses ipAddress/dnsSettings.fqdn, Microsoft.Web sites
 * defaultHostName, Microsoft.Storage primaryEndpoints, Microsoft.Sql servers fullyQualifiedDomainName).
 */
export function synthesizeReadOnlyProperties(
  r: Pick<EvaluatedResource, 'id' | 'type' | 'name' | 'location' | 'kind'>,
  declared: Record<string, unknown>,
  defaultLocation: string,
  tenantId = '00000000-0000-0000-0000-000000000000',
): Record<string, unknown> {
  const p: Record<string, unknown> = { ...declared };
  const type = r.type.toLowerCase();
  const leaf = r.name.split('/').pop() ?? r.name;
  const loc = normalizeLocation(r.location, defaultLocation);
  switch (type) {
    case 'microsoft.network/publicipaddresses': {
      p.ipAddress ??= publicIpFor(r.id);
      p.publicIPAddressVersion ??= 'IPv4';
      p.publicIPAllocationMethod ??= 'Dynamic';
      p.resourceGuid ??= armGuid([r.id, 'resourceGuid']);
      const dns = obj(p.dnsSettings);
      if (typeof dns.domainNameLabel === 'string' && dns.domainNameLabel) {
        dns.fqdn ??= `${dns.domainNameLabel}.${loc}.cloudapp.azure.com`;
        p.dnsSettings = dns;
      }
      break;
    }
    case 'microsoft.network/networkinterfaces': {
      const cfgs = Array.isArray(p.ipConfigurations) ? p.ipConfigurations : [];
      p.ipConfigurations = cfgs.map((c, i) => {
        const cfg = obj(c);
        const props = obj(cfg.properties);
        props.privateIPAddress ??= privateIpFor(r.id, i);
        props.privateIPAddressVersion ??= 'IPv4';
        props.privateIPAllocationMethod ??= 'Dynamic';
        props.primary ??= i === 0;
        props.provisioningState = 'Succeeded';
        cfg.properties = props;
        if (typeof cfg.name === 'string') cfg.id ??= `${r.id}/ipConfigurations/${cfg.name}`;
        return cfg;
      });
      p.macAddress ??= seedBytes(`mac:${r.id.toLowerCase()}`, 6).toString('hex').toUpperCase().match(/../g)!.join('-');
      p.resourceGuid ??= armGuid([r.id, 'resourceGuid']);
      break;
    }
    case 'microsoft.web/sites':
    case 'microsoft.web/sites/slots': {
      const host = type.endsWith('/slots') ? `${r.name.replace('/', '-')}.azurewebsites.net` : `${leaf}.azurewebsites.net`;
      // Microsoft.Web sites GET: the id custom domains verify with (asuid TXT record).
      p.customDomainVerificationId ??= seedBytes(`asuid:${r.id.toLowerCase()}`, 32).toString('hex').toUpperCase();
      p.defaultHostName ??= host;
      p.hostNames ??= [host];
      p.enabledHostNames ??= [host, host.replace('.azurewebsites.net', '.scm.azurewebsites.net')];
      p.state ??= 'Running';
      p.enabled ??= true;
      p.availabilityState ??= 'Normal';
      p.outboundIpAddresses ??= publicIpFor(`${r.id}/outbound`);
      p.possibleOutboundIpAddresses ??= p.outboundIpAddresses;
      break;
    }
    case 'microsoft.storage/storageaccounts': {
      const ep = (svc: string): string => `https://${leaf}.${svc}.core.windows.net/`;
      p.primaryEndpoints ??= { blob: ep('blob'), queue: ep('queue'), table: ep('table'), file: ep('file'), web: ep('web'), dfs: ep('dfs') };
      p.primaryLocation ??= loc;
      p.statusOfPrimary ??= 'available';
      p.creationTime ??= '2024-01-01T00:00:00.0000000Z';
      break;
    }
    case 'microsoft.sql/servers':
      p.fullyQualifiedDomainName ??= `${leaf}.database.windows.net`;
      p.state ??= 'Ready';
      p.version ??= '12.0';
      break;
    case 'microsoft.containerinstance/containergroups': {
      if (isPlainObject(p.ipAddress)) {
        const ip = obj(p.ipAddress);
        ip.ip ??= String(ip.type ?? 'Public').toLowerCase() === 'private' ? privateIpFor(r.id, 0) : publicIpFor(r.id);
        if (typeof ip.dnsNameLabel === 'string' && ip.dnsNameLabel) ip.fqdn ??= `${ip.dnsNameLabel}.${loc}.azurecontainer.io`;
        p.ipAddress = ip;
      }
      p.instanceView ??= { state: 'Running' };
      break;
    }
    case 'microsoft.compute/virtualmachines':
      p.vmId ??= armGuid([r.id, 'vmId']);
      break;
    case 'microsoft.keyvault/vaults':
      p.vaultUri ??= `https://${leaf}.vault.azure.net/`;
      break;
    case 'microsoft.logic/workflows':
      p.accessEndpoint ??= `https://prod-00.${loc}.logic.azure.com:443/workflows/${armGuid([r.id, 'workflow']).replace(/-/g, '')}`;
      p.state ??= 'Enabled';
      p.version ??= armGuid([r.id, 'version']).replace(/-/g, '').slice(0, 18).toUpperCase();
      p.createdTime ??= '2024-01-01T00:00:00.0000000Z';
      p.changedTime ??= '2024-01-01T00:00:00.0000000Z';
      break;
    case 'microsoft.documentdb/databaseaccounts':
      p.documentEndpoint ??= `https://${leaf}.documents.azure.com:443/`;
      break;
    case 'microsoft.cache/redis':
      p.hostName ??= `${leaf}.redis.cache.windows.net`;
      p.port ??= 6379;
      p.sslPort ??= 6380;
      break;
    case 'microsoft.containerregistry/registries':
      p.loginServer ??= `${leaf.toLowerCase()}.azurecr.io`;
      break;
    case 'microsoft.servicebus/namespaces':
    case 'microsoft.eventhub/namespaces':
      p.serviceBusEndpoint ??= `https://${leaf}.servicebus.windows.net:443/`;
      break;
    case 'microsoft.insights/components': {
      const key = armGuid([r.id, 'instrumentationKey']);
      p.InstrumentationKey ??= key;
      p.ConnectionString ??= `InstrumentationKey=${key};IngestionEndpoint=https://${loc}.in.applicationinsights.azure.com/`;
      p.AppId ??= armGuid([r.id, 'appId']);
      break;
    }
    // Microsoft.OperationalInsights REST API: a Log Analytics workspace's id for agents (customerId).
    case 'microsoft.operationalinsights/workspaces':
      p.customerId ??= armGuid([r.id, 'customerId']);
      p.retentionInDays ??= 30;
      break;
    case 'microsoft.signalrservice/signalr':
    case 'microsoft.signalrservice/webpubsub':
      p.hostName ??= `${leaf.toLowerCase()}.${type.endsWith('webpubsub') ? 'webpubsub.azure.com' : 'service.signalr.net'}`;
      break;
    // Microsoft.ManagedIdentity REST API: a user-assigned identity's service principal.
    case 'microsoft.managedidentity/userassignedidentities':
      p.principalId ??= armGuid([r.id, 'principalId']);
      p.clientId ??= armGuid([r.id, 'clientId']);
      p.tenantId ??= tenantId;
      break;
    // Microsoft.Resources deploymentScripts REST API: what the script wrote. The emulator does not run
    // scripts: empty, and open to reads through reference() (script-outputs.ts).
    case 'microsoft.resources/deploymentscripts':
      p.outputs ??= {};
      break;
    // Microsoft.DBforPostgreSQL / DBforMySQL servers (single and flexible): the server's host name.
    case 'microsoft.dbforpostgresql/servers':
    case 'microsoft.dbforpostgresql/flexibleservers':
    case 'microsoft.dbformysql/servers':
    case 'microsoft.dbformysql/flexibleservers': {
      const engine = type.includes('postgresql') ? 'postgres' : 'mysql';
      p.fullyQualifiedDomainName ??= `${leaf}.${engine}.database.azure.com`;
      p.state ??= 'Ready';
      break;
    }
    // Microsoft.Cdn classic endpoints: `<name>.azureedge.net`.
    case 'microsoft.cdn/profiles/endpoints':
      p.hostName ??= `${leaf.toLowerCase()}.azureedge.net`;
      p.resourceState ??= 'Running';
      break;
    // Microsoft.Network privateEndpoints: the network interface Azure creates for the endpoint
    // (privateEndpointNic() is that interface as a resource).
    case 'microsoft.network/privateendpoints':
      p.networkInterfaces ??= [{ id: privateEndpointNicId(r.id) }];
      break;
    // Microsoft.Cdn profiles (Front Door Standard/Premium): the profile's Front Door id.
    case 'microsoft.cdn/profiles':
      p.frontDoorId ??= armGuid([r.id, 'frontDoorId']);
      break;
    case 'microsoft.network/frontdoors':
      p.frontdoorId ??= armGuid([r.id, 'frontdoorId']);
      p.cname ??= `${leaf}.azurefd.net`;
      break;
    // Microsoft.CertificateRegistration certificateOrders: the domain verification token and, once
    // issued, the signed certificate (its thumbprint is what sites bind).
    case 'microsoft.certificateregistration/certificateorders':
      p.domainVerificationToken ??= armGuid([r.id, 'domainVerificationToken']).replace(/-/g, '');
      p.DomainVerificationToken ??= p.domainVerificationToken;
      p.SignedCertificate ??= { Thumbprint: thumbprintFor(r.id), Subject: `CN=${String(p.DistinguishedName ?? leaf).replace(/^CN=/i, '')}`, Issuer: 'CN=Go Daddy Secure Certificate Authority - G2' };
      break;
    // Microsoft.Web certificates (App Service managed and imported): SHA-1 thumbprint, subject, expiry.
    case 'microsoft.web/certificates':
      p.thumbprint ??= thumbprintFor(r.id);
      p.subjectName ??= typeof p.canonicalName === 'string' ? p.canonicalName : leaf;
      p.expirationDate ??= '2099-01-01T00:00:00+00:00';
      break;
    // Microsoft.Cdn afdEndpoints (Front Door Standard/Premium): `<name>-<hash>.z01.azurefd.net`.
    case 'microsoft.cdn/profiles/afdendpoints':
      p.hostName ??= `${leaf}-${seedBytes(`afd:${r.id.toLowerCase()}`, 8).toString('hex').slice(0, 12)}.z01.azurefd.net`;
      p.enabledState ??= 'Enabled';
      break;
    // Microsoft.Network virtualNetworks: every subnet gets its id (as in a GET).
    case 'microsoft.network/virtualnetworks': {
      const subnets = Array.isArray(p.subnets) ? p.subnets : [];
      p.subnets = subnets.map((sn) => {
        const s2 = obj(sn);
        if (typeof s2.name === 'string') s2.id ??= `${r.id}/subnets/${s2.name}`;
        return s2;
      });
      break;
    }
    default:
      break;
  }
  p.provisioningState = 'Succeeded';
  return p;
}

/** A deterministic SHA-1-style certificate thumbprint (40 upper-case hex) for a resource id. Emulator rule. */
/** Id of the network interface Azure creates with a private endpoint: `<endpoint>.nic.<guid>`, same resource group. */
export function privateEndpointNicId(endpointId: string): string {
  const at = endpointId.toLowerCase().lastIndexOf('/providers/microsoft.network/privateendpoints/');
  const name = endpointId.split('/').pop() ?? 'endpoint';
  return `${endpointId.slice(0, at)}/providers/Microsoft.Network/networkInterfaces/${name}.nic.${armGuid([endpointId.toLowerCase(), 'nic'])}`;
}

/**
 * The network interface Azure creates for a private endpoint (Microsoft.Network REST API,
 * privateEndpoints: "networkInterfaces"): one IP configuration per group id of its private link
 * connections, with a private address and the service's FQDNs (privateLinkConnectionProperties).
 */
export function privateEndpointNic(endpoint: EvaluatedResource): EvaluatedResource {
  const id = privateEndpointNicId(endpoint.id);
  const connections = [...(Array.isArray(endpoint.properties.privateLinkServiceConnections) ? endpoint.properties.privateLinkServiceConnections : []), ...(Array.isArray(endpoint.properties.manualPrivateLinkServiceConnections) ? endpoint.properties.manualPrivateLinkServiceConnections : [])];
  const groups = connections.flatMap((c) => {
    const props = obj(obj(c).properties);
    const target = String(props.privateLinkServiceId ?? '').split('/').pop() ?? '';
    return (Array.isArray(props.groupIds) ? props.groupIds : ['default']).map((g) => ({ group: String(g), target }));
  });
  const subnet = obj(endpoint.properties.subnet);
  const ipConfigurations = (groups.length ? groups : [{ group: 'default', target: '' }]).map((g, i) => ({
    name: `privateEndpointIpConfig.${armGuid([id, String(i)])}`,
    id: `${id}/ipConfigurations/privateEndpointIpConfig.${armGuid([id, String(i)])}`,
    properties: {
      provisioningState: 'Succeeded',
      privateIPAddress: privateIpFor(id, i),
      privateIPAllocationMethod: 'Dynamic',
      ...(subnet.id ? { subnet: { id: subnet.id } } : {}),
      primary: i === 0,
      privateIPAddressVersion: 'IPv4',
      privateLinkConnectionProperties: { groupId: g.group, requiredMemberName: g.group, fqdns: g.target ? [`${g.target}.${g.group}.core.windows.net`] : [] },
    },
  }));
  return {
    id,
    type: 'Microsoft.Network/networkInterfaces',
    name: id.split('/').pop()!,
    ...(endpoint.location ? { location: endpoint.location } : {}),
    properties: { provisioningState: 'Succeeded', ipConfigurations, privateEndpoint: { id: endpoint.id }, nicType: 'Standard' },
    resourceGroupName: endpoint.resourceGroupName,
    subscriptionId: endpoint.subscriptionId,
  };
}

function thumbprintFor(id: string): string {
  return seedBytes(`thumbprint:${id.toLowerCase()}`, 20).toString('hex').toUpperCase();
}

/** Adds principalId/tenantId to a SystemAssigned identity, as Azure does. */
export function synthesizeIdentity(id: string, identity: unknown, tenantId: string): unknown {
  if (!isPlainObject(identity)) return identity;
  const out: Record<string, unknown> = { ...identity };
  if (typeof out.type === 'string' && out.type.toLowerCase().includes('systemassigned')) {
    out.principalId ??= armGuid([id, 'principalId']);
    out.tenantId ??= tenantId;
  }
  return out;
}

function key(seed: string): string {
  return seedBytes(seed, 64).toString('base64');
}

/**
 * Result of a list*() action on a resource (ARM docs: "list* functions"). Storage accounts:
 * listKeys -> {keys:[{keyName,value,permissions:'FULL'}]} (API versions before 2016-01-01:
 * {key1, key2}, Microsoft.Storage 2015-06-15 and 2015-05-01-preview StorageAccountKeys),
 * listAccountSas/listServiceSas -> a SAS token. Log Analytics workspaces: {primarySharedKey,
 * secondarySharedKey}. Other types get a generic {primaryKey, secondaryKey, ...connection strings} shape.
 * Values are deterministic per resource id.
 */
export function synthesizeListResult(functionName: string, r: Pick<EvaluatedResource, 'id' | 'type' | 'name'>, apiVersion?: string): unknown {
  const fn = functionName.toLowerCase();
  const type = r.type.toLowerCase();
  const leaf = r.name.split('/').pop() ?? r.name;
  const k1 = key(`${r.id.toLowerCase()}:key1`);
  const k2 = key(`${r.id.toLowerCase()}:key2`);
  if (type === 'microsoft.storage/storageaccounts') {
    if (fn === 'listaccountsas') return { accountSasToken: `sv=2022-11-02&ss=b&srt=sco&sp=rl&se=2099-01-01T00:00:00Z&sig=${encodeURIComponent(k1.slice(0, 43))}` };
    if (fn === 'listservicesas') return { serviceSasToken: `sv=2022-11-02&sr=c&sp=r&se=2099-01-01T00:00:00Z&sig=${encodeURIComponent(k1.slice(0, 43))}` };
    if (apiVersion && apiVersion < '2016-01-01') return { key1: k1, key2: k2 };
    return {
      keys: [
        { creationTime: '2024-01-01T00:00:00.0000000Z', keyName: 'key1', value: k1, permissions: 'FULL' },
        { creationTime: '2024-01-01T00:00:00.0000000Z', keyName: 'key2', value: k2, permissions: 'FULL' },
      ],
    };
  }
  if (type === 'microsoft.operationalinsights/workspaces') return { primarySharedKey: k1, secondarySharedKey: k2 };
  if (type === 'microsoft.documentdb/databaseaccounts') {
    return { primaryMasterKey: k1, secondaryMasterKey: k2, primaryReadonlyMasterKey: key(`${r.id}:ro1`), secondaryReadonlyMasterKey: key(`${r.id}:ro2`) };
  }
  // Service Bus, Event Hubs and Notification Hubs answer listKeys with connection strings (their namespace is sb://<ns>.servicebus.windows.net).
  const sb = type.startsWith('microsoft.servicebus/') || type.startsWith('microsoft.eventhub/') || type.startsWith('microsoft.notificationhubs/');
  const ns = r.name.split('/')[0];
  return {
    primaryKey: k1,
    secondaryKey: k2,
    keys: [
      { keyName: 'key1', value: k1 },
      { keyName: 'key2', value: k2 },
    ],
    ...(sb
      ? {
          keyName: leaf,
          primaryConnectionString: `Endpoint=sb://${ns}.servicebus.windows.net/;SharedAccessKeyName=${leaf};SharedAccessKey=${k1}`,
          secondaryConnectionString: `Endpoint=sb://${ns}.servicebus.windows.net/;SharedAccessKeyName=${leaf};SharedAccessKey=${k2}`,
        }
      : {}),
  };
}
