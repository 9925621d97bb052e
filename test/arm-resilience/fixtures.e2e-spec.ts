/**
 * Property 1: every ARM fixture (test/fixtures/arm, real public templates) deploys
 * through the path a publisher and the service use: the real DeploymentsClient, a resource group made
 * with ResourceManagementClient, the template served from blob storage (Azurite) and deployed by
 * templateLink.uri. The two test drive fixtures also run as offer packages through the service
 * (upload, publish, hot session), and their outputs render into the access information.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BlobServiceClient } from '@azure/storage-blob';
import type { LocalAzure } from '../support/harness';
import { armClients, capacity, customer, emulatedGroups, FIXTURES, publishOffer, Publisher, startLocalAzureWith, useLocalServiceWith } from './helpers';

type Params = Record<string, { value: unknown }>;
type Outputs = Record<string, { type?: string; value?: unknown }>;

interface FixtureCase {
  entry: string;
  /** Parameters beyond azuredeploy.parameters.json (baseUri = the folder's container URL + '/'). */
  extra: (ctx: { baseUri: string; unique: string }) => Params;
  /** What a successful deployment must have produced. */
  check: (r: { outputs: Outputs; params: Params; resources: Array<{ type: string; name: string }> }) => void;
}

const ofType = (resources: Array<{ type: string; name: string }>, type: string) => resources.filter((r) => r.type.toLowerCase() === type.toLowerCase());

const CASES: Record<string, FixtureCase> = {
  'aci-linuxcontainer-public-ip': {
    entry: 'azuredeploy.json',
    extra: () => ({}),
    check: ({ outputs, resources }) => {
      expect(outputs.containerIPv4Address.value).toMatch(/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/);
      expect(ofType(resources, 'Microsoft.ContainerInstance/containerGroups').map((r) => r.name)).toEqual(['acilinuxpublicipcontainergroup']);
    },
  },
  'kv-dynamic-id-linked': {
    entry: 'azuredeploy.json',
    extra: ({ baseUri }) => ({
      vaultName: { value: 'td-vault' },
      secretName: { value: 'sqlAdminPassword' },
      vaultResourceGroupName: { value: 'vault-rg' },
      _artifactsLocation: { value: baseUri },
    }),
    check: ({ outputs, resources }) => {
      expect(outputs.sqlFQDN.value).toMatch(/^sql-[a-z2-7]{13}\.database\.windows\.net$/);
      expect(ofType(resources, 'Microsoft.Sql/servers')).toHaveLength(1);
    },
  },
  'logic-app-create': {
    entry: 'azuredeploy.json',
    extra: ({ unique }) => ({ logicAppName: { value: `la-${unique}` } }),
    check: ({ outputs, params, resources }) => {
      expect(outputs).toEqual({});
      expect(ofType(resources, 'Microsoft.Logic/workflows').map((r) => r.name)).toEqual([params.logicAppName.value]);
    },
  },
  'storage-account-create': {
    entry: 'azuredeploy.json',
    extra: () => ({}),
    check: ({ outputs, resources }) => {
      const name = outputs.storageAccountName.value as string;
      expect(name).toMatch(/^store[a-z2-7]{13}$/);
      expect(outputs.storageAccountId.value).toMatch(new RegExp(`/providers/Microsoft.Storage/storageAccounts/${name}$`));
      expect(ofType(resources, 'Microsoft.Storage/storageAccounts').map((r) => r.name)).toEqual([name]);
    },
  },
  'td-contoso-simple': {
    entry: 'main-template.json',
    extra: ({ baseUri }) => ({ baseUri: { value: baseUri }, sessionId: { value: 'c0ffee00-0000-4000-8000-000000000001' }, username: { value: 'admin12345' }, password: { value: 'Pa55w.rd!x' } }),
    check: ({ outputs }) => {
      expect(outputs.uri.value).toBe('http://www.contoso.com/c0ffee00-0000-4000-8000-000000000001');
      expect(outputs.username.value).toBe('admin12345');
      expect(outputs.password.value).toBe('Pa55w.rd!x');
    },
  },
  'td-winvm-linked': {
    entry: 'main-template.json',
    extra: ({ baseUri }) => ({ baseUri: { value: baseUri }, adminName: { value: 'admin54321' }, adminPassword: { value: 'Pa55w.rd!y' } }),
    check: ({ outputs, resources }) => {
      expect(outputs['Host Name'].value).toMatch(/^contosovm[a-z2-7]{13}\.westeurope\.cloudapp\.azure\.com$/);
      expect(outputs['User Name'].value).toBe('admin54321');
      expect(ofType(resources, 'Microsoft.Compute/virtualMachines')).toHaveLength(1);
    },
  },
  'vm-simple-linux': {
    entry: 'azuredeploy.json',
    extra: () => ({}),
    check: ({ outputs, params }) => {
      expect(outputs.hostname.value).toBe(`${params.dnsLabelPrefix.value}.westeurope.cloudapp.azure.com`);
      expect(outputs.sshCommand.value).toBe(`ssh ${params.adminUsername.value}@${params.dnsLabelPrefix.value}.westeurope.cloudapp.azure.com`);
    },
  },
  'vms-loadbalancer-copy': {
    entry: 'azuredeploy.json',
    extra: ({ unique }) => ({ storageAccountName: { value: `diag${unique}` } }),
    check: ({ outputs, resources }) => {
      expect(outputs).toEqual({});
      expect(ofType(resources, 'Microsoft.Compute/virtualMachines').map((r) => r.name).sort()).toEqual(['myVM0', 'myVM1']);
      expect(ofType(resources, 'Microsoft.Network/loadBalancers').map((r) => r.name)).toEqual(['myLB']);
    },
  },
  'webapp-basic-linux': {
    entry: 'azuredeploy.json',
    extra: () => ({}),
    check: ({ outputs, params, resources }) => {
      expect(outputs).toEqual({});
      expect(ofType(resources, 'Microsoft.Web/sites').map((r) => r.name)).toEqual([`${params.webAppName.value}-webapp`]);
    },
  },
};

/** azuredeploy.parameters.json with the quickstart CI tokens replaced (GEN-UNIQUE: lowercase, unique; GEN-PASSWORD: complex). */
function parametersFile(dir: string): Params {
  const file = path.join(FIXTURES, dir, 'azuredeploy.parameters.json');
  if (!fs.existsSync(file)) return {};
  const doc = JSON.parse(fs.readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as { parameters: Params };
  for (const p of Object.values(doc.parameters)) {
    if (p.value === 'GEN-UNIQUE') p.value = `gen${randomBytes(5).toString('hex')}`;
    else if (p.value === 'GEN-PASSWORD') p.value = `Gp!${randomBytes(8).toString('base64url')}9a`;
  }
  return doc.parameters;
}

/** Every file under `dir`, relative paths with '/'. */
function filesUnder(dir: string, rel = ''): string[] {
  return fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(dir, path.posix.join(rel, e.name)) : [path.posix.join(rel, e.name)]));
}

describe('the ARM fixtures deploy through the real SDKs, linked from blob storage', () => {
  let azure: LocalAzure;
  let publisher: Publisher;
  let blobs: BlobServiceClient;
  const folders = fs.readdirSync(FIXTURES, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();

  beforeAll(async () => {
    azure = await startLocalAzureWith({ deploymentSeconds: 0.1 });
    publisher = await azure.emulator.createPublisher({});
    blobs = BlobServiceClient.fromConnectionString(azure.azurite.connectionString);
  });
  afterAll(async () => {
    await azure?.stop();
  });

  /** Uploads the fixture folder bytes-as-they-are (BOM, CRLF) to a public-read container; returns its base URI ('/'-terminated). */
  async function upload(folder: string): Promise<string> {
    const container = blobs.getContainerClient(`fx-${folder}-${randomBytes(3).toString('hex')}`.toLowerCase());
    await container.create({ access: 'blob' });
    for (const rel of filesUnder(path.join(FIXTURES, folder))) {
      const data = fs.readFileSync(path.join(FIXTURES, folder, rel));
      await container.getBlockBlobClient(rel).uploadData(data, { blobHTTPHeaders: { blobContentType: 'application/json' } });
    }
    return `${container.url}/`;
  }

  it('covers every fixture folder', () => {
    expect(folders).toEqual(Object.keys(CASES).sort());
  });

  it.each(Object.keys(CASES).sort())('%s: Succeeded with its outputs', async (folder) => {
    const c = CASES[folder];
    const baseUri = await upload(folder);
    const unique = randomBytes(4).toString('hex');
    const params = { ...parametersFile(folder), ...c.extra({ baseUri, unique }) };
    const { rm, deployments } = armClients(azure, publisher);
    const rg = `fx-${folder}-${unique}`;
    await rm.resourceGroups.createOrUpdate(rg, { location: 'westeurope', tags: { fixture: folder } });
    const result = await deployments.deployments.createOrUpdate(
      rg,
      'main',
      { properties: { mode: 'Incremental', templateLink: { uri: `${baseUri}${c.entry}` }, parameters: params } },
      { updateIntervalInMs: 50 },
    );
    expect(result.properties?.provisioningState).toBe('Succeeded');
    const got = await deployments.deployments.get(rg, 'main');
    const outputs = (got.properties?.outputs ?? {}) as Outputs;
    const group = emulatedGroups(azure, publisher.subscriptionId).find((g) => g.name === rg)!;
    c.check({ outputs, params, resources: group.resources });
  });

  it('kv-dynamic-id-linked with its dead default _artifactsLocation fails like ARM: DeploymentFailed / InvalidContentLink', async () => {
    const { rm, deployments } = armClients(azure, publisher);
    const baseUri = await upload('kv-dynamic-id-linked');
    const rg = `fx-kv-dead-${randomBytes(3).toString('hex')}`;
    await rm.resourceGroups.createOrUpdate(rg, { location: 'westeurope' });
    await expect(
      deployments.deployments.createOrUpdate(
        rg,
        'main',
        {
          properties: {
            mode: 'Incremental',
            templateLink: { uri: `${baseUri}azuredeploy.json` },
            parameters: { vaultName: { value: 'v' }, secretName: { value: 's' }, vaultResourceGroupName: { value: 'vault-rg' } },
          },
        },
        { updateIntervalInMs: 50 },
      ),
    ).rejects.toThrow(/DeploymentFailed|failed/i);
    const got = await deployments.deployments.get(rg, 'main');
    expect(got.properties?.provisioningState).toBe('Failed');
    const error = got.properties?.error as { code: string; details: Array<{ code: string; message: string; target?: string }> };
    expect(error.code).toBe('DeploymentFailed');
    expect(error.details[0].code).toBe('InvalidContentLink');
    expect(error.details[0].message).toContain('https://raw.githubusercontent.com/Azure/azure-quickstart-templates/master/201-key-vault-use-dynamic-id/nested/sqlserver.json');
  }, 60_000);
});

describe('the test drive fixtures as offer packages through the service', () => {
  const local = useLocalServiceWith({ deploymentSeconds: 0.1 });

  it('td-contoso-simple: all four metadata types filled, outputs in the access information', async () => {
    await publishOffer(local.svc, local.publisher, 'td-contoso', [{ name: 'westeurope', hot: 1, cold: 0 }], {
      packageDir: path.join(FIXTURES, 'td-contoso-simple'),
      accessInformation: '<p>Open {{uri}} as {{username}} / {{password}}</p>',
    });
    const rev = await local.svc.http.get('/api/v1/offers/td-contoso/package').expect(200);
    const types = Object.fromEntries((rev.body.revision.parameters as Array<{ name: string; metadataType: string | null }>).map((p) => [p.name, p.metadataType]));
    expect(types).toMatchObject({ baseUri: 'baseuri', sessionId: 'sessionid', username: 'username', password: 'password' });
    await local.svc.until(async () => (await capacity(local.svc, 'td-contoso', 'westeurope')).hotReady === 1);

    const s = await local.svc.http.post('/api/v1/offers/td-contoso/sessions').send({ customer }).expect(201);
    expect(s.body).toMatchObject({ state: 'ready', instanceKind: 'hot' });
    const m = /^<p>Open http:\/\/www\.contoso\.com\/([0-9a-f-]{36}) as (admin\d{5}) \/ ((?:&amp;|[^\s&]){10})<\/p>$/.exec(s.body.accessInformation);
    expect(m).not.toBeNull();
    // sessionid = the instance's GUID, which also names its resource group.
    const group = emulatedGroups(local.azure, local.publisher.subscriptionId).find((g) => g.tags['testdrive-offer'] === 'td-contoso')!;
    expect(group.name).toBe(`CloudTry_${m![1].replace(/-/g, '')}`);
    expect(s.body.outputs).toEqual({ uri: `http://www.contoso.com/${m![1]}`, username: m![2], password: m![3].replace(/&amp;/g, '&') });
    await local.svc.http.delete(`/api/v1/sessions/${s.body.id}`).expect(202);
  });

  it('td-winvm-linked: linked template from the revision baseUri, output names with spaces render', async () => {
    await publishOffer(local.svc, local.publisher, 'td-winvm', [{ name: 'eastus', hot: 1, cold: 1 }], {
      packageDir: path.join(FIXTURES, 'td-winvm-linked'),
      accessInformation: 'RDP to {{Host Name}} as {{ User Name }} / {{Password}}',
    });
    await local.svc.until(async () => (await capacity(local.svc, 'td-winvm', 'eastus')).hotReady === 1);
    const hot = await local.svc.http.post('/api/v1/offers/td-winvm/sessions').send({ customer, region: 'eastus' }).expect(201);
    expect(hot.body.state).toBe('ready');
    expect(hot.body.accessInformation).toMatch(/^RDP to contosovm[a-z2-7]{13}\.eastus\.cloudapp\.azure\.com as admin\d{5} \/ (?:&amp;|[^\s&]){10}$/);

    // The cold instance deploys the same package on request.
    const cold = await local.svc.http.post('/api/v1/offers/td-winvm/sessions').send({ customer: { ...customer, email: 'b@example.com' }, region: 'eastus' }).expect(201);
    expect(cold.body).toMatchObject({ state: 'provisioning', instanceKind: 'cold' });
    const ready = await local.svc.until(async () => {
      const r = await local.svc.http.get(`/api/v1/sessions/${cold.body.id}`).expect(200);
      return r.body.state === 'ready' ? r.body : null;
    });
    expect(ready.accessInformation).toMatch(/^RDP to contosovm[a-z2-7]{13}\.eastus\.cloudapp\.azure\.com as admin\d{5} \/ (?:&amp;|[^\s&]){10}$/);
    expect(ready.accessInformation).not.toBe(hot.body.accessInformation);
    const groups = emulatedGroups(local.azure, local.publisher.subscriptionId).filter((g) => g.tags['testdrive-offer'] === 'td-winvm');
    expect(groups).toHaveLength(2);
    for (const g of groups) expect(g.resources.filter((r) => r.type === 'Microsoft.Compute/virtualMachines')).toHaveLength(1);
  });
});
