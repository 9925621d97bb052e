import * as fs from 'node:fs';
import * as path from 'node:path';
import { ArmTemplateError, DeploymentScope, EvaluatedResource, TemplateDeploymentRequest, evaluateTemplateDeployment } from './index';
import { ARM_FIXTURES } from '../../../../test/support/fixtures-dir';

const FIXTURES = ARM_FIXTURES;
const BASE = 'https://store.example/pkg/';

const scope: DeploymentScope = {
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  subscriptionId: '00000000-0000-0000-0000-000000000001',
  resourceGroupName: 'td-rg-1',
  location: 'westeurope',
  deploymentName: 'main',
  armEndpoint: 'https://localhost:8443',
};

/** Serves fixture files for https://store.example/pkg/<dir>/<relative path>, as Buffers (BOM kept). */
function fetchFrom(dir: string): (uri: string) => Promise<unknown> {
  return async (uri: string) => {
    const prefix = `${BASE}${dir}/`;
    if (!uri.startsWith(prefix)) throw new Error(`404 Not Found: ${uri}`);
    const rel = uri.slice(prefix.length).split('?')[0];
    const file = path.join(FIXTURES, dir, rel);
    if (!fs.existsSync(file)) throw new Error(`404 Not Found: ${uri}`);
    return fs.readFileSync(file);
  };
}

function readParams(dir: string): Record<string, { value?: unknown }> {
  const file = path.join(FIXTURES, dir, 'azuredeploy.parameters.json');
  if (!fs.existsSync(file)) return {};
  let n = 0;
  const doc = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as { parameters: Record<string, { value?: unknown }> };
  for (const p of Object.values(doc.parameters)) {
    if (p.value === 'GEN-UNIQUE') p.value = `gen${++n}x${'abcdef'.slice(0, 4)}`;
    else if (p.value === 'GEN-PASSWORD') p.value = 'P@ssw0rd-Gen-123!';
  }
  return doc.parameters;
}

function request(dir: string, file: string, params: Record<string, unknown>, extra: Partial<TemplateDeploymentRequest> = {}): TemplateDeploymentRequest {
  return {
    scope,
    template: fs.readFileSync(path.join(FIXTURES, dir, file)),
    parameters: params as TemplateDeploymentRequest['parameters'],
    fetchTemplate: fetchFrom(dir),
    ...extra,
  };
}

const byType = (resources: EvaluatedResource[], type: string): EvaluatedResource[] => resources.filter((r) => r.type.toLowerCase() === type.toLowerCase());

describe('ARM fixtures', () => {
  it('td-contoso-simple (BOM, CRLF, metadata types, no resources)', async () => {
    const res = await evaluateTemplateDeployment(
      request('td-contoso-simple', 'main-template.json', {
        baseUri: { value: `${BASE}td-contoso-simple/` },
        sessionId: { value: 'sess-42' },
        username: { value: 'demo' },
        password: { value: 'Secret#1' },
      }),
    );
    expect(res.resources).toEqual([]);
    expect(res.outputs.uri).toEqual({ type: 'String', value: 'http://www.contoso.com/sess-42' });
    expect(res.outputs.username.value).toBe('demo');
    expect(res.outputs.password.value).toBe('Secret#1');
  });

  it('td-winvm-linked (linked template via baseUri, outputs from the linked deployment)', async () => {
    const res = await evaluateTemplateDeployment(
      request('td-winvm-linked', 'main-template.json', {
        adminName: { value: 'tdadmin' },
        adminPassword: { value: 'Pa55w.rd1234' },
        baseUri: { value: `${BASE}td-winvm-linked/` },
      }),
    );
    const host = res.outputs['Host Name'].value as string;
    expect(host).toMatch(/^contosovm[a-z2-7]{13}\.westeurope\.cloudapp\.azure\.com$/);
    expect(res.outputs['User Name'].value).toBe('tdadmin');
    expect(res.outputs.Password.value).toBe('Pa55w.rd1234');
    expect(res.nestedDeployments).toHaveLength(1);
    expect(res.nestedDeployments[0].name).toBe('linkedTemplate');
    expect(res.nestedDeployments[0].outputs.hostName.value).toBe(host);
    expect(res.nestedDeployments[0].templateLinkUri).toBe(`${BASE}td-winvm-linked/template.json`);
    expect(res.resources.map((r) => r.type)).toEqual([
      'Microsoft.Storage/storageAccounts',
      'Microsoft.Network/publicIPAddresses',
      'Microsoft.Network/virtualNetworks',
      'Microsoft.Network/networkInterfaces',
      'Microsoft.Compute/virtualMachines',
    ]);
    const vm = byType(res.resources, 'Microsoft.Compute/virtualMachines')[0];
    const storage = byType(res.resources, 'Microsoft.Storage/storageAccounts')[0];
    const sp = vm.properties.storageProfile as { osDisk: { vhd: { uri: string } } };
    expect(sp.osDisk.vhd.uri).toBe(`https://${storage.name}.blob.core.windows.net/vhds/sys0.vhd`);
    expect(vm.properties.vmId).toMatch(/^[0-9a-f-]{36}$/);
    expect(vm.properties.provisioningState).toBe('Succeeded');
  });

  it('vm-simple-linux (bicep output, condition, if/null, object variable indexing)', async () => {
    const params = readParams('vm-simple-linux');
    const res = await evaluateTemplateDeployment(request('vm-simple-linux', 'azuredeploy.json', params));
    const label = params.dnsLabelPrefix.value as string;
    expect(res.outputs.hostname.value).toBe(`${label}.westeurope.cloudapp.azure.com`);
    expect(res.outputs.hostname.value).toMatch(/\.cloudapp\.azure\.com$/);
    expect(res.outputs.sshCommand.value).toBe(`ssh ${params.adminUsername.value}@${label}.westeurope.cloudapp.azure.com`);
    const vm = byType(res.resources, 'Microsoft.Compute/virtualMachines')[0];
    expect((vm.properties.osProfile as Record<string, unknown>).linuxConfiguration).toBeNull();
    expect((vm.properties.storageProfile as Record<string, unknown>).imageReference).toEqual({
      publisher: 'Canonical',
      offer: '0001-com-ubuntu-server-focal',
      sku: '20_04-lts-gen2',
      version: 'latest',
    });
    // TrustedLaunch -> the guest attestation extension is deployed
    const ext = byType(res.resources, 'Microsoft.Compute/virtualMachines/extensions');
    expect(ext).toHaveLength(1);
    expect(ext[0].id).toBe(`/subscriptions/${scope.subscriptionId}/resourceGroups/td-rg-1/providers/Microsoft.Compute/virtualMachines/simpleLinuxVM/extensions/GuestAttestation`);
    const nic = byType(res.resources, 'Microsoft.Network/networkInterfaces')[0];
    const cfg = (nic.properties.ipConfigurations as Array<{ properties: { privateIPAddress: string } }>)[0];
    expect(cfg.properties.privateIPAddress).toMatch(/^10\.\d+\.\d+\.\d+$/);
    // dependency order: the NIC comes after the NSG, public IP and subnet
    const order = res.resources.map((r) => r.type);
    expect(order.indexOf('Microsoft.Network/networkInterfaces')).toBeGreaterThan(order.indexOf('Microsoft.Network/virtualNetworks/subnets'));
  });

  it('vm-simple-linux with Standard security type skips the conditional extension', async () => {
    const params = { ...readParams('vm-simple-linux'), securityType: { value: 'Standard' } };
    const res = await evaluateTemplateDeployment(request('vm-simple-linux', 'azuredeploy.json', params));
    expect(byType(res.resources, 'Microsoft.Compute/virtualMachines/extensions')).toHaveLength(0);
    const vm = byType(res.resources, 'Microsoft.Compute/virtualMachines')[0];
    expect(vm.properties.securityProfile).toBeNull();
  });

  it('aci-linuxcontainer-public-ip (int defaults, output is an IP)', async () => {
    const res = await evaluateTemplateDeployment(request('aci-linuxcontainer-public-ip', 'azuredeploy.json', readParams('aci-linuxcontainer-public-ip')));
    expect(res.outputs.containerIPv4Address.value).toMatch(/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/);
    const cg = res.resources[0];
    const container = (cg.properties.containers as Array<{ properties: { ports: Array<{ port: unknown }>; resources: { requests: { cpu: unknown } } } }>)[0];
    expect(container.properties.ports[0].port).toBe(80);
    expect(container.properties.resources.requests.cpu).toBe(1);
  });

  it('webapp-basic-linux (minLength, dependsOn via resourceId, no outputs)', async () => {
    const params = readParams('webapp-basic-linux');
    const res = await evaluateTemplateDeployment(request('webapp-basic-linux', 'azuredeploy.json', params));
    expect(res.outputs).toEqual({});
    const site = byType(res.resources, 'Microsoft.Web/sites')[0];
    expect(site.name).toBe(`${params.webAppName.value}-webapp`);
    expect(site.properties.defaultHostName).toBe(`${params.webAppName.value}-webapp.azurewebsites.net`);
    expect(site.properties.state).toBe('Running');
    expect(site.properties.serverFarmId).toBe(`/subscriptions/${scope.subscriptionId}/resourceGroups/td-rg-1/providers/Microsoft.Web/serverfarms/AppServicePlan-${params.webAppName.value}`);
    expect(res.resources.map((r) => r.type)).toEqual(['Microsoft.Web/serverfarms', 'Microsoft.Web/sites']);
  });

  it('webapp-basic-linux refuses a value shorter than minLength', async () => {
    await expect(evaluateTemplateDeployment(request('webapp-basic-linux', 'azuredeploy.json', { webAppName: { value: 'x' } }))).rejects.toMatchObject({
      code: 'InvalidTemplate',
      phase: 'validation',
    });
  });

  it('storage-account-create (format + uniqueString default, resourceId output)', async () => {
    const res = await evaluateTemplateDeployment(request('storage-account-create', 'azuredeploy.json', {}));
    const name = res.outputs.storageAccountName.value as string;
    expect(name).toMatch(/^store[a-z2-7]{13}$/);
    expect(res.outputs.storageAccountId.value).toBe(`/subscriptions/${scope.subscriptionId}/resourceGroups/td-rg-1/providers/Microsoft.Storage/storageAccounts/${name}`);
    const sa = res.resources[0];
    expect(sa.properties.primaryEndpoints).toMatchObject({ blob: `https://${name}.blob.core.windows.net/`, web: `https://${name}.web.core.windows.net/` });
    expect(sa.sku).toEqual({ name: 'Standard_LRS' });
    // same inputs -> same name
    const again = await evaluateTemplateDeployment(request('storage-account-create', 'azuredeploy.json', {}));
    expect(again.outputs.storageAccountName.value).toBe(name);
  });

  it('storage-account-create refuses a value outside allowedValues', async () => {
    const err = await evaluateTemplateDeployment(request('storage-account-create', 'azuredeploy.json', { storageAccountType: { value: 'Cheap_LRS' } })).catch((e) => e);
    expect(err).toBeInstanceOf(ArmTemplateError);
    expect(err.code).toBe('InvalidTemplate');
    expect(err.message).toContain('The parameter value is not part of the allowed value(s)');
  });

  it('logic-app-create (workflow definition passes through unchanged apart from ARM expressions)', async () => {
    const raw = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'logic-app-create/azuredeploy.json'), 'utf8'));
    const res = await evaluateTemplateDeployment(request('logic-app-create', 'azuredeploy.json', { logicAppName: { value: 'td-logic' } }));
    const wf = res.resources[0];
    expect(wf.type).toBe('Microsoft.Logic/workflows');
    expect(wf.tags).toEqual({ displayName: 'td-logic' });
    const def = wf.properties.definition as Record<string, unknown>;
    expect(def).toEqual({
      $schema: raw.variables.workflowSchema,
      contentVersion: '1.0.0.0',
      parameters: { testUri: { type: 'string', defaultValue: 'https://azure.status.microsoft/status/' } },
      triggers: { recurrence: { type: 'recurrence', recurrence: { frequency: 'Hour', interval: '1' } } },
      actions: { actionType: { type: 'http', inputs: { method: 'GET', uri: 'https://azure.status.microsoft/status/' } } },
    });
    expect(wf.properties.state).toBe('Enabled');
    expect(wf.properties.accessEndpoint).toMatch(/^https:\/\/.+\.logic\.azure\.com/);
  });

  it('logic-app-create keeps "@{...}" workflow expressions untouched', async () => {
    const t = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'logic-app-create/azuredeploy.json'), 'utf8'));
    t.resources[0].properties.definition.actions.actionType.inputs.body = "@{triggerBody()?['x']}";
    t.resources[0].properties.definition.actions.actionType.inputs.literal = '[[notAnExpression]';
    const res = await evaluateTemplateDeployment({ ...request('logic-app-create', 'azuredeploy.json', { logicAppName: { value: 'la' } }), template: t });
    const inputs = ((res.resources[0].properties.definition as Record<string, any>).actions.actionType.inputs) as Record<string, unknown>;
    expect(inputs.body).toBe("@{triggerBody()?['x']}");
    expect(inputs.literal).toBe('[notAnExpression]');
  });

  it('logic-app-create without logicAppName fails validation (missing parameter)', async () => {
    const err = await evaluateTemplateDeployment(request('logic-app-create', 'azuredeploy.json', {})).catch((e) => e);
    expect(err).toBeInstanceOf(ArmTemplateError);
    expect(err.code).toBe('InvalidTemplate');
    expect(err.phase).toBe('validation');
    // ARM names the line and column of the parameter's declaration object ("{" of "logicAppName": {)
    expect(err.message).toContain("The value for the template parameter 'logicAppName' at line '12' and column '21' is not provided");
  });

  it('vms-loadbalancer-copy (copy loops, copyindex spellings, trailing-slash types)', async () => {
    const params = { ...readParams('vms-loadbalancer-copy'), storageAccountName: { value: 'tddiag001' } };
    const res = await evaluateTemplateDeployment(request('vms-loadbalancer-copy', 'azuredeploy.json', params));
    const vms = byType(res.resources, 'Microsoft.Compute/virtualMachines');
    const nics = byType(res.resources, 'Microsoft.Network/networkInterfaces');
    expect(vms.map((v) => v.name)).toEqual(['myVM0', 'myVM1']);
    expect(nics.map((v) => v.name)).toEqual(['nic0', 'nic1']);
    const vm1 = vms[1].properties as Record<string, any>;
    expect(vm1.osProfile.computerName).toBe('myVM1');
    expect(vm1.networkProfile.networkInterfaces[0].id).toBe(nics[1].id);
    expect(vm1.diagnosticsProfile.bootDiagnostics.storageUri).toBe('https://tddiag001.blob.core.windows.net/');
    const nic1 = nics[1].properties as Record<string, any>;
    expect(nic1.ipConfigurations[0].properties.loadBalancerInboundNatRules[0].id).toMatch(/\/loadBalancers\/myLB\/inboundNatRules\/RDP-VM1$/);
    expect(nic1.ipConfigurations[0].properties.subnet.id).toBe(`/subscriptions/${scope.subscriptionId}/resourceGroups/td-rg-1/providers/Microsoft.Network/virtualNetworks/myVNET/subnets/Subnet-1`);
    // NICs depend on the load balancer; VMs on their NIC
    const order = res.resources.map((r) => r.name);
    expect(order.indexOf('nic0')).toBeGreaterThan(order.indexOf('myLB'));
    expect(order.indexOf('myVM1')).toBeGreaterThan(order.indexOf('nic1'));
    expect(vms[0].dependsOn).toContain(nics[0].id);
  });

  it('kv-dynamic-id-linked (uri(), Key Vault reference parameter, relative nested path)', async () => {
    const res = await evaluateTemplateDeployment(
      request('kv-dynamic-id-linked', 'azuredeploy.json', {
        vaultName: { value: 'td-vault' },
        secretName: { value: 'sqlAdminPassword' },
        vaultResourceGroupName: { value: 'vault-rg' },
        _artifactsLocation: { value: `${BASE}kv-dynamic-id-linked/` },
      }),
    );
    expect(res.outputs.sqlFQDN.value).toMatch(/^sql-[a-z2-7]{13}\.database\.windows\.net$/);
    const sql = byType(res.resources, 'Microsoft.Sql/servers')[0];
    expect(sql.properties.administratorLoginPassword).toBe('emulated-secret-sqlAdminPassword');
    expect(sql.properties.administratorLogin).toBe('ghuser');
    expect(res.warnings?.[0]).toContain('sqlAdminPassword');
    expect(res.nestedDeployments[0].templateLinkUri).toBe(`${BASE}kv-dynamic-id-linked/nested/sqlserver.json`);
  });

  it('kv-dynamic-id-linked with the dead default _artifactsLocation fails with InvalidContentLink', async () => {
    const err = await evaluateTemplateDeployment(
      request('kv-dynamic-id-linked', 'azuredeploy.json', {
        vaultName: { value: 'td-vault' },
        secretName: { value: 's' },
        vaultResourceGroupName: { value: 'vault-rg' },
      }),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ArmTemplateError);
    expect(err.code).toBe('DeploymentFailed');
    expect(err.phase).toBe('runtime');
    expect(err.details[0].code).toBe('InvalidContentLink');
    expect(err.details[0].message).toContain(
      "Unable to download deployment content from 'https://raw.githubusercontent.com/Azure/azure-quickstart-templates/master/201-key-vault-use-dynamic-id/nested/sqlserver.json'",
    );
    expect(err.details[0].target).toMatch(/\/deployments\/dynamicSecret$/);
  });

  it('top-level templateLink (string content with BOM) and failing fetch', async () => {
    const res = await evaluateTemplateDeployment({
      scope,
      templateLink: { uri: `${BASE}td-winvm-linked/main-template.json` },
      parameters: { adminName: { value: 'a' }, adminPassword: { value: 'b' }, baseUri: { value: `${BASE}td-winvm-linked/` } },
      fetchTemplate: async (uri) => (await fetchFrom('td-winvm-linked')(uri) as Buffer).toString('utf8'),
    });
    expect(res.outputs['Host Name'].value).toMatch(/cloudapp\.azure\.com$/);
    const err = await evaluateTemplateDeployment({ scope, templateLink: { uri: 'https://nowhere.example/x.json' }, fetchTemplate: async () => { throw new Error('404'); } }).catch((e) => e);
    expect(err).toBeInstanceOf(ArmTemplateError);
    expect(err.code).toBe('InvalidContentLink');
    expect(err.phase).toBe('validation');
  });
});
