import { DeploymentScope, evaluateTemplateDeployment } from './index';
import { SPEC_SCOPE } from './spec-scope';

/**
 * What a 2021 sample of Azure quickstart templates needed (issue 13, bench/quickstart-sample): older
 * API versions' list results, read-only properties of Log Analytics workspaces, child resources
 * referenced by the name they were declared with inside their parent, white space other than ASCII.
 */

const scope: DeploymentScope = SPEC_SCOPE;

async function run(template: Record<string, unknown>) {
  return evaluateTemplateDeployment({ scope, template: { $schema: 's', contentVersion: '1.0.0.0', ...template }, fetchTemplate: async () => ({}) });
}

const storage = { type: 'Microsoft.Storage/storageAccounts', apiVersion: '2015-06-15', name: 'stqs2021', location: 'westus2', properties: { accountType: 'Standard_LRS' } };

describe('quickstart templates of 2021', () => {
  it("listKeys of a storage account with an API version before 2016-01-01 answers {key1, key2} (umbraco-cms-webapp-redis-cache)", async () => {
    const res = await run({
      resources: [storage],
      outputs: {
        old: { type: 'string', value: "[listKeys(concat('Microsoft.Storage/storageAccounts/', 'stqs2021'), '2015-05-01-preview').key1]" },
        current: { type: 'string', value: "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'stqs2021'), '2023-01-01').keys[0].value]" },
      },
    });
    expect(res.outputs.old.value).toMatch(/^[A-Za-z0-9+/=]{80,}$/);
    expect(res.outputs.current.value).toBe(res.outputs.old.value);
  });

  it('a Log Analytics workspace has a customerId and shared keys (201-blob-storage-private-endpoint)', async () => {
    const ws = { type: 'Microsoft.OperationalInsights/workspaces', apiVersion: '2020-08-01', name: 'ws1', location: 'westus2', properties: { sku: { name: 'PerGB2018' } } };
    const res = await run({
      resources: [ws],
      outputs: {
        customerId: { type: 'string', value: "[reference(resourceId('Microsoft.OperationalInsights/workspaces', 'ws1'), '2020-08-01').customerId]" },
        key: { type: 'string', value: "[listKeys(resourceId('Microsoft.OperationalInsights/workspaces', 'ws1'), '2020-08-01').primarySharedKey]" },
      },
    });
    expect(res.outputs.customerId.value).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(typeof res.outputs.key.value).toBe('string');
  });

  it('reference() finds a child resource by the name it was declared with inside its parent (201-cdn-with-web-app)', async () => {
    const res = await run({
      variables: { endpointName: 'endpoint-x1' },
      resources: [
        {
          type: 'Microsoft.Cdn/profiles',
          apiVersion: '2016-04-02',
          name: 'profile1',
          location: 'westus2',
          sku: { name: 'Standard_Akamai' },
          resources: [
            {
              type: 'endpoints',
              apiVersion: '2016-04-02',
              name: "[variables('endpointName')]",
              location: 'westus2',
              dependsOn: ['profile1'],
              properties: { originHostHeader: 'origin.example.com', origins: [{ name: 'o', properties: { hostName: 'origin.example.com' } }] },
            },
          ],
        },
      ],
      outputs: { origin: { type: 'string', value: "[reference(variables('endpointName')).originHostHeader]" } },
    });
    expect(res.outputs.origin.value).toBe('origin.example.com');
  });

  it('a classic CDN endpoint has its azureedge.net host name (201-cdn-with-storage-account)', async () => {
    const res = await run({
      resources: [
        { type: 'Microsoft.Cdn/profiles', apiVersion: '2016-04-02', name: 'p1', location: 'westus2', sku: { name: 'Standard_Akamai' } },
        { type: 'Microsoft.Cdn/profiles/endpoints', apiVersion: '2016-04-02', name: 'p1/Ep-One', location: 'westus2', dependsOn: ['p1'], properties: { origins: [] } },
      ],
      outputs: { host: { type: 'string', value: "[reference(resourceId('Microsoft.Cdn/profiles/endpoints', 'p1', 'Ep-One')).hostName]" } },
    });
    expect(res.outputs.host.value).toBe('ep-one.azureedge.net');
  });

  it("a private endpoint's network interface exists and has the private address (301-web-app-regional-vnet-private-endpoint-sql-storage)", async () => {
    const subnet = "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet1', 'pe')]";
    const res = await run({
      resources: [
        { type: 'Microsoft.Storage/storageAccounts', apiVersion: '2019-06-01', name: 'stpe1', location: 'westus2', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
        {
          type: 'Microsoft.Network/privateEndpoints',
          apiVersion: '2019-11-01',
          name: 'pe1',
          location: 'westus2',
          dependsOn: ['stpe1'],
          properties: {
            subnet: { id: subnet },
            privateLinkServiceConnections: [{ name: 'c', properties: { privateLinkServiceId: "[resourceId('Microsoft.Storage/storageAccounts', 'stpe1')]", groupIds: ['blob'] } }],
          },
        },
      ],
      outputs: {
        nic: { type: 'string', value: "[reference(resourceId('Microsoft.Network/privateEndpoints', 'pe1'), '2019-11-01').networkInterfaces[0].id]" },
        ip: {
          type: 'string',
          value: "[reference(reference(resourceId('Microsoft.Network/privateEndpoints', 'pe1'), '2019-11-01').networkInterfaces[0].id, '2019-11-01').ipConfigurations[0].properties.privateIPAddress]",
        },
        fqdn: {
          type: 'string',
          value: "[reference(reference(resourceId('Microsoft.Network/privateEndpoints', 'pe1')).networkInterfaces[0].id, '2019-11-01').ipConfigurations[0].properties.privateLinkConnectionProperties.fqdns[0]]",
        },
      },
    });
    expect(res.outputs.nic.value).toMatch(/\/providers\/Microsoft\.Network\/networkInterfaces\/pe1\.nic\.[0-9a-f-]{36}$/);
    expect(res.outputs.ip.value).toMatch(/^10\.0\.\d+\.\d+$/);
    expect(res.outputs.fqdn.value).toBe('stpe1.blob.core.windows.net');
    expect(res.resources.map((r) => r.type)).toContain('Microsoft.Network/networkInterfaces');
  });

  it('a no-break space between function arguments is white space (101-event-grid-subscription-and-storage)', async () => {
    const res = await run({ resources: [], outputs: { id: { type: 'string', value: "[resourceId('Microsoft.Storage/storageAccounts',\u00a0'st1')]" } } });
    expect(res.outputs.id.value).toMatch(/\/providers\/Microsoft\.Storage\/storageAccounts\/st1$/);
  });
});
