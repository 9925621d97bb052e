import { ArmTemplateError, DeploymentScope, EvaluatedResource, evaluateTemplateDeployment } from './index';
import { SPEC_SCOPE } from './spec-scope';

/** ARM's template validation before deploying, and reference() in every documented form. */

const scope: DeploymentScope = SPEC_SCOPE;
const RG = '/subscriptions/sub-1/resourceGroups/rg1/providers';

async function run(template: unknown, parameters: Record<string, unknown> = {}, existingResources: EvaluatedResource[] = []) {
  return evaluateTemplateDeployment({ scope, template, parameters: parameters as never, existingResources, fetchTemplate: async () => ({}) });
}

async function fails(template: unknown, parameters: Record<string, unknown> = {}, existing: EvaluatedResource[] = []): Promise<ArmTemplateError> {
  let caught: unknown;
  try {
    await run(template, parameters, existing);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ArmTemplateError);
  return caught as ArmTemplateError;
}

const storage = (name: string, extra: Record<string, unknown> = {}) => ({
  type: 'Microsoft.Storage/storageAccounts',
  apiVersion: '2023-01-01',
  name,
  location: 'westus2',
  sku: { name: 'Standard_LRS' },
  kind: 'StorageV2',
  properties: { accessTier: 'Hot' },
  ...extra,
});

describe('parameter constraints (InvalidTemplate at validation, ARM wording)', () => {
  const text = [
    '{',
    '  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",',
    '  "contentVersion": "1.0.0.0",',
    '  "parameters": {',
    '    "sku": { "type": "string", "allowedValues": ["Standard_LRS", "Premium_LRS"] },',
    '    "name": {',
    '      "type": "string", "minLength": 3, "maxLength": 5',
    '    },',
    '    "count": { "type": "int", "minValue": 1, "maxValue": 3, "defaultValue": 1 },',
    '    "zones": { "type": "array", "allowedValues": ["1", "2", "3"], "defaultValue": [] }',
    '  },',
    '  "resources": []',
    '}',
  ].join('\n');
  const ok = { sku: { value: 'Standard_LRS' }, name: { value: 'abcd' } };
  const msg = async (params: Record<string, unknown>): Promise<string> => {
    const e = await fails(text, params);
    expect(e.code).toBe('InvalidTemplate');
    expect(e.phase).toBe('validation');
    return e.message;
  };

  it('accepts values within the constraints', async () => {
    await expect(run(text, { ...ok, count: { value: 3 }, zones: { value: ['1', '3'] } })).resolves.toBeDefined();
  });
  it('allowedValues', async () => {
    expect(await msg({ ...ok, sku: { value: 'Basic' } })).toBe(
      "Deployment template validation failed: 'The provided value 'Basic' for the template parameter 'sku' at line '5' and column '12' is not valid. The parameter value is not part of the allowed value(s): 'Standard_LRS,Premium_LRS'. Please see https://aka.ms/arm-syntax-parameters for usage details.'",
    );
    expect(await msg({ ...ok, zones: { value: ['1', '4'] } })).toContain("for the template parameter 'zones' at line '10' and column '14' is not valid. The parameter value is not part of the allowed value(s): '1,2,3'.");
  });
  it('minLength / maxLength', async () => {
    expect(await msg({ ...ok, name: { value: 'ab' } })).toBe(
      "Deployment template validation failed: 'The provided value for the template parameter 'name' at line '6' and column '13' is not valid. Length of the value should be greater than or equal to '3'. Please see https://aka.ms/arm-syntax-parameters for usage details.'",
    );
    expect(await msg({ ...ok, name: { value: 'abcdef' } })).toContain("Length of the value should be less than or equal to '5'.");
  });
  it('minValue / maxValue', async () => {
    expect(await msg({ ...ok, count: { value: 0 } })).toContain("The provided value for the template parameter 'count' at line '9' and column '14' is not valid. The value should be greater than or equal to '1'.");
    expect(await msg({ ...ok, count: { value: 4 } })).toContain("The value should be less than or equal to '3'.");
  });
  it('a template given as an object (no text) reports line 1, column 1', async () => {
    const e = await fails(JSON.parse(text), { ...ok, name: { value: 'ab' } });
    expect(e.message).toContain("for the template parameter 'name' at line '1' and column '1' is not valid.");
  });
});

describe('dependsOn (InvalidTemplate at validation)', () => {
  it('a dependsOn naming no resource of the template', async () => {
    const e = await fails({ resources: [storage('sa1', { dependsOn: ["[resourceId('Microsoft.Compute/virtualMachines', 'vm1')]"] })] });
    expect(e.phase).toBe('validation');
    expect(e.message).toBe(
      `Deployment template validation failed: 'The resource '${RG}/Microsoft.Compute/virtualMachines/vm1' is not defined in the template. Please see https://aka.ms/arm-syntax for usage details.'`,
    );
    const e2 = await fails({ resources: [storage('sa1', { dependsOn: ['Microsoft.Storage/storageAccounts/nope'] })] });
    expect(e2.message).toContain("The resource 'Microsoft.Storage/storageAccounts/nope' is not defined in the template.");
  });
  it('cycles are refused before anything is deployed, also when no reference() is involved', async () => {
    const e = await fails({
      resources: [
        storage('sa1', { dependsOn: ['Microsoft.Storage/storageAccounts/sa2'] }),
        storage('sa2', { dependsOn: ['sa3'] }),
        storage('sa3', { dependsOn: ["[resourceId('Microsoft.Storage/storageAccounts', 'sa1')]"] }),
      ],
    });
    expect(e.code).toBe('InvalidTemplate');
    expect(e.phase).toBe('validation');
    expect(e.message).toMatch(
      /^Deployment template validation failed: 'Circular dependency detected on resource: '\/subscriptions\/sub-1\/resourceGroups\/rg1\/providers\/Microsoft\.Storage\/storageAccounts\/sa[123]'\. Please see https:\/\/aka\.ms\/arm-syntax-resources for usage details\.'$/,
    );
  });
  it('reference()/list*() create implicit dependencies that count for cycles (ARM docs: "Define the order for deploying resources")', async () => {
    const e = await fails({
      resources: [
        storage('sa1', { dependsOn: ['sa2'] }),
        storage('sa2', { properties: { peer: "[reference(resourceId('Microsoft.Storage/storageAccounts', 'sa1')).accessTier]" } }),
      ],
    });
    expect(e.phase).toBe('validation');
    expect(e.message).toContain('Circular dependency detected on resource:');
    const e2 = await fails({
      resources: [
        storage('sa1', { properties: { k: "[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'sa2'), '2023-01-01').keys[0].value]" } }),
        storage('sa2', { properties: { peer: "[reference('sa1').accessTier]" } }),
      ],
    });
    expect(e2.phase).toBe('validation');
    expect(e2.message).toContain('Circular dependency detected on resource:');
    // a one-way reference without dependsOn is fine: the referenced resource deploys first
    const ok = await run({ resources: [storage('sa1', { properties: { peer: "[reference('sa2').accessTier]" } }), storage('sa2')] });
    expect(ok.resources.map((r) => r.name)).toEqual(['sa2', 'sa1']);
  });
  it('a resource depending on itself through a copy loop name is a cycle; a diamond is not', async () => {
    const loop = { ...storage("[concat('sa', copyIndex())]"), copy: { name: 'accounts', count: 2 }, dependsOn: ['accounts'] };
    // dependsOn its own loop: ARM ignores the instance itself; the other instance depends back -> cycle
    expect((await fails({ resources: [loop] })).message).toContain('Circular dependency detected on resource:');
    const res = await run({
      resources: [storage('a', { dependsOn: ['b', 'c'] }), storage('b'), storage('c', { dependsOn: ['d'] }), storage('d', { dependsOn: ['b'] })],
    });
    expect(res.resources.map((r) => r.name)).toEqual(['b', 'd', 'c', 'a']);
  });
});

describe('reference() forms', () => {
  const existing: EvaluatedResource = {
    id: `${RG}/Microsoft.Storage/storageAccounts/old1`,
    type: 'Microsoft.Storage/storageAccounts',
    name: 'old1',
    location: 'westus2',
    properties: { provisioningState: 'Succeeded', primaryEndpoints: { blob: 'https://old1.blob.core.windows.net/' } },
    resourceGroupName: 'rg1',
    subscriptionId: 'sub-1',
  };
  const outputs = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { type: 'object', value: v }]));

  it('by name, Namespace/type/name, resource id, with apiVersion, and Full', async () => {
    const res = await run(
      {
        resources: [storage('sa1')],
        outputs: outputs({
          byName: "[reference('sa1').accessTier]",
          byTypeName: "[reference('Microsoft.Storage/storageAccounts/sa1').accessTier]",
          byId: "[reference(resourceId('Microsoft.Storage/storageAccounts', 'sa1'), '2023-01-01').accessTier]",
          full: "[reference('sa1', '2023-01-01', 'Full')]",
          existingByTypeName: "[reference('Microsoft.Storage/storageAccounts/old1', '2023-01-01').primaryEndpoints.blob]",
          existingFull: "[reference(resourceId('Microsoft.Storage/storageAccounts', 'old1'), '2022-09-01', 'Full').apiVersion]",
        }),
      },
      {},
      [existing],
    );
    expect(res.outputs.byName.value).toBe('Hot');
    expect(res.outputs.byTypeName.value).toBe('Hot');
    expect(res.outputs.byId.value).toBe('Hot');
    expect(res.outputs.full.value).toMatchObject({
      apiVersion: '2023-01-01',
      location: 'westus2',
      sku: { name: 'Standard_LRS' },
      kind: 'StorageV2',
      id: `${RG}/Microsoft.Storage/storageAccounts/sa1`,
      name: 'sa1',
      type: 'Microsoft.Storage/storageAccounts',
      properties: { accessTier: 'Hot' },
      resourceId: 'Microsoft.Storage/storageAccounts/sa1',
      referenceApiVersion: '2023-01-01',
      condition: true,
      isConditionTrue: true,
      isTemplateResource: true,
      isAction: false,
    });
    expect(res.outputs.existingByTypeName.value).toBe('https://old1.blob.core.windows.net/');
    expect(res.outputs.existingFull.value).toBe('2022-09-01');
  });

  it("a child by 'Namespace/type/name/childType/childName' (ARM docs: type/name pairs); Full of an existing resource", async () => {
    const res = await run(
      {
        resources: [
          { type: 'Microsoft.Network/virtualNetworks', apiVersion: '2023-05-01', name: 'vnet1', location: 'westus2', properties: { addressSpace: { addressPrefixes: ['10.0.0.0/16'] } } },
          { type: 'Microsoft.Network/virtualNetworks/subnets', apiVersion: '2023-05-01', name: 'vnet1/sub1', dependsOn: ['vnet1'], properties: { addressPrefix: '10.0.1.0/24' } },
        ],
        outputs: outputs({
          child: "[reference('Microsoft.Network/virtualNetworks/vnet1/subnets/sub1').addressPrefix]",
          existing: "[reference(resourceId('Microsoft.Storage/storageAccounts', 'old1'), '2022-09-01', 'Full')]",
        }),
      },
      {},
      [existing],
    );
    expect(res.outputs.child.value).toBe('10.0.1.0/24');
    expect(res.outputs.existing.value).toMatchObject({ apiVersion: '2022-09-01', referenceApiVersion: '2022-09-01', isTemplateResource: false, provisioningOperation: 'Read', resourceId: 'Microsoft.Storage/storageAccounts/old1' });
  });

  it('a name that is no resource of the template: InvalidTemplate at validation (also through parameters/variables)', async () => {
    const expected =
      "Deployment template validation failed: 'The template reference 'nope' is not valid: could not find template resource or resource copy with this name. Please see https://aka.ms/arm-function-reference for usage details.'";
    const e = await fails({ resources: [storage('sa1')], outputs: outputs({ o: "[reference('nope').x]" }) });
    expect(e.phase).toBe('validation');
    expect(e.message).toBe(expected);
    const e2 = await fails({
      parameters: { n: { type: 'string', defaultValue: 'no' } },
      variables: { suffix: 'pe' },
      resources: [storage('sa1', { properties: { x: "[reference(concat(parameters('n'), variables('suffix'))).y]" } })],
    });
    expect(e2.phase).toBe('validation');
    expect(e2.message).toBe(expected);
  });

  it('a resource id or Namespace/type/name that does not exist: ResourceNotFound while deploying', async () => {
    for (const target of ["resourceId('Microsoft.Storage/storageAccounts', 'ghost')", "'Microsoft.Storage/storageAccounts/ghost'"]) {
      const e = await fails({ resources: [], outputs: outputs({ o: `[reference(${target}).x]` }) });
      expect(e.code).toBe('DeploymentFailed');
      expect(e.phase).toBe('runtime');
      expect(e.details[0].code).toBe('ResourceNotFound');
      expect(e.details[0].message).toBe(
        "The Resource 'Microsoft.Storage/storageAccounts/ghost' under resource group 'rg1' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
      );
    }
  });

  it('copy loop instances by name, and references() of a collection', async () => {
    const res = await run({
      resources: [{ ...storage("[concat('sa', copyIndex())]"), copy: { name: 'accounts', count: 2 } }],
      outputs: {
        one: { type: 'string', value: "[reference('sa1').accessTier]" },
        all: { type: 'array', value: "[references('accounts')]" },
        ids: { type: 'array', value: "[map(references('accounts', 'Full'), lambda('r', lambdaVariables('r').name))]" },
      },
    });
    expect(res.outputs.one.value).toBe('Hot');
    expect(res.outputs.all.value).toMatchObject([{ accessTier: 'Hot', primaryEndpoints: { blob: 'https://sa0.blob.core.windows.net/' } }, { accessTier: 'Hot' }]);
    expect(res.outputs.ids.value).toEqual(['sa0', 'sa1']);
  });
});
