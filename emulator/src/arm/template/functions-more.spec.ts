import { ArmTemplateError, DeploymentScope, evaluateTemplateDeployment } from './index';
import { armErrorOf, SPEC_SCOPE } from './spec-scope';

/** Functions of ARM's template function reference added after the first library (CIDR, lambdas, zones, providers...). */

const scope: DeploymentScope = SPEC_SCOPE;

async function ev(expr: unknown, extra: Record<string, unknown> = {}, s: DeploymentScope = scope): Promise<unknown> {
  const template = { $schema: 's', contentVersion: '1.0.0.0', resources: [], ...extra, outputs: { o: { type: 'object', value: expr } } };
  const res = await evaluateTemplateDeployment({ scope: s, template, fetchTemplate: async () => ({}) });
  return res.outputs.o.value;
}

function evFails(expr: unknown): Promise<ArmTemplateError> {
  return armErrorOf(() => ev(expr));
}

/** The cause of a DeploymentFailed error (outputs are evaluated at runtime). */
const cause = (e: ArmTemplateError): { code: string; message: string } => (e.code === 'DeploymentFailed' ? e.details[0] : e);

describe('CIDR functions (ARM docs: "CIDR functions for ARM templates")', () => {
  it('parseCidr: the documented IPv4 and IPv6 examples', async () => {
    expect(await ev("[parseCidr('10.144.0.0/20')]")).toEqual({
      network: '10.144.0.0',
      netmask: '255.255.240.0',
      broadcast: '10.144.15.255',
      firstUsable: '10.144.0.1',
      lastUsable: '10.144.15.254',
      cidr: 20,
    });
    expect(await ev("[parseCidr('fdad:3236:5555::/48')]")).toEqual({
      network: 'fdad:3236:5555::',
      netmask: 'ffff:ffff:ffff::',
      firstUsable: 'fdad:3236:5555::',
      lastUsable: 'fdad:3236:5555:ffff:ffff:ffff:ffff:ffff',
      cidr: 48,
    });
    expect(await ev("[parseCidr('10.0.0.7/32')]")).toMatchObject({ network: '10.0.0.7', firstUsable: '10.0.0.7', lastUsable: '10.0.0.7' });
  });
  it('cidrSubnet: the documented examples', async () => {
    expect(await ev("[map(range(0, 5), lambda('i', cidrSubnet('10.144.0.0/20', 24, lambdaVariables('i'))))]")).toEqual([
      '10.144.0.0/24',
      '10.144.1.0/24',
      '10.144.2.0/24',
      '10.144.3.0/24',
      '10.144.4.0/24',
    ]);
    expect(await ev("[map(range(0, 5), lambda('i', cidrSubnet('fdad:3236:5555::/48', 52, lambdaVariables('i'))))]")).toEqual([
      'fdad:3236:5555::/52',
      'fdad:3236:5555:1000::/52',
      'fdad:3236:5555:2000::/52',
      'fdad:3236:5555:3000::/52',
      'fdad:3236:5555:4000::/52',
    ]);
  });
  it('cidrHost: the documented examples (index 0 = first usable address)', async () => {
    expect(await ev("[map(range(0, 5), lambda('i', cidrHost('10.144.3.0/24', lambdaVariables('i'))))]")).toEqual(['10.144.3.1', '10.144.3.2', '10.144.3.3', '10.144.3.4', '10.144.3.5']);
    expect(await ev("[map(range(0, 5), lambda('i', cidrHost('fdad:3236:5555:3000::/52', lambdaVariables('i'))))]")).toEqual([
      'fdad:3236:5555:3000::1',
      'fdad:3236:5555:3000::2',
      'fdad:3236:5555:3000::3',
      'fdad:3236:5555:3000::4',
      'fdad:3236:5555:3000::5',
    ]);
  });
  it('refuses bad networks and out-of-range indexes with InvalidTemplate', async () => {
    for (const expr of ["[parseCidr('10.0.0.256/24')]", "[parseCidr('10.0.0.0')]", "[cidrSubnet('10.0.0.0/24', 16, 0)]", "[cidrSubnet('10.0.0.0/24', 25, 2)]", "[cidrHost('10.0.0.0/30', 2)]"]) {
      const e = cause(await evFails(expr));
      expect(e.code).toBe('InvalidTemplate');
      expect(e.message).toMatch(/^Unable to evaluate template language function '(parseCidr|cidrSubnet|cidrHost)'/);
    }
  });
});

describe('lambda functions (ARM docs: "Lambda functions for ARM templates")', () => {
  const dogs = [
    { name: 'Evie', age: 5 },
    { name: 'Casper', age: 3 },
    { name: 'Indy', age: 2 },
    { name: 'Kira', age: 8 },
  ];
  it('sort: by a "comes before" lambda, stable', async () => {
    expect(await ev("[sort(variables('dogs'), lambda('a', 'b', less(lambdaVariables('a').age, lambdaVariables('b').age)))]", { variables: { dogs } })).toEqual([
      dogs[2],
      dogs[1],
      dogs[0],
      dogs[3],
    ]);
    expect(await ev("[sort(createArray('b','a2','c','a1'), lambda('x', 'y', less(first(lambdaVariables('x')), first(lambdaVariables('y')))))]")).toEqual(['a2', 'a1', 'b', 'c']);
  });
  it('groupBy and mapValues', async () => {
    expect(await ev("[groupBy(createArray('foo','bar','baz'), lambda('x', substring(lambdaVariables('x'), 0, 1)))]")).toEqual({ f: ['foo'], b: ['bar', 'baz'] });
    expect(await ev("[mapValues(createObject('foo','foo'), lambda('v', toUpper(lambdaVariables('v'))))]")).toEqual({ foo: 'FOO' });
    const e = cause(await evFails("[groupBy(createArray(1), lambda('x', lambdaVariables('x')))]"));
    expect(e.message).toContain("Unable to evaluate template language function 'groupBy'");
  });
  it('map/filter/reduce lambdas may take the index as an extra parameter', async () => {
    expect(await ev("[map(createArray('a','b'), lambda('x', 'i', concat(lambdaVariables('x'), string(lambdaVariables('i')))))]")).toEqual(['a0', 'b1']);
    expect(await ev("[filter(createArray('a','b','c'), lambda('x', 'i', not(equals(lambdaVariables('i'), 1))))]")).toEqual(['a', 'c']);
    expect(await ev("[reduce(createArray(5,6), 0, lambda('acc', 'x', 'i', add(lambdaVariables('acc'), mul(lambdaVariables('x'), lambdaVariables('i')))))]")).toBe(6);
  });
});

describe('array access from the end', () => {
  it('indexFromEnd / tryIndexFromEnd (1-based from the end) and tryGet with {value, fromEnd}', async () => {
    expect(await ev("[indexFromEnd(createArray('a','b','c'), 1)]")).toBe('c');
    expect(await ev("[indexFromEnd(createArray('a','b','c'), 3)]")).toBe('a');
    expect(await ev("[tryIndexFromEnd(createArray('a','b','c'), 4)]")).toBeNull();
    expect(await ev("[tryIndexFromEnd(createArray('a','b','c'), 0)]")).toBeNull();
    expect(await ev("[tryGet(createArray('a','b','c'), createObject('value', 2, 'fromEnd', true()))]")).toBe('b');
    expect(await ev("[tryGet(createArray('a','b','c'), createObject('value', 5, 'fromEnd', true()))]")).toBeNull();
    const e = cause(await evFails("[indexFromEnd(createArray('a'), 2)]"));
    expect(e.message).toContain("Unable to evaluate template language function 'indexFromEnd'");
  });
});

describe('resource and scope functions', () => {
  it('providers(namespace[, type]) from the emulator catalog', async () => {
    const one = (await ev("[providers('Microsoft.Storage', 'storageAccounts')]")) as { resourceType: string; locations: string[]; apiVersions: string[] };
    expect(one.resourceType).toBe('storageAccounts');
    expect(one.locations).toContain('West Europe');
    expect(one.apiVersions).toContain('2023-01-01');
    const ns = (await ev("[providers('microsoft.web')]")) as { namespace: string; resourceTypes: Array<{ resourceType: string }> };
    expect(ns.namespace).toBe('Microsoft.Web');
    expect(ns.resourceTypes.map((t) => t.resourceType)).toContain('sites');
    expect(cause(await evFails("[providers('Microsoft.Nope')]")).message).toContain("the resource namespace 'Microsoft.Nope' is invalid.");
    expect(cause(await evFails("[providers('Microsoft.Storage', 'nope')]")).message).toContain("the resource type 'nope' could not be found");
  });
  it('pickZones: zonal types in zonal regions, [] otherwise', async () => {
    expect(await ev("[pickZones('Microsoft.Compute', 'virtualMachines', 'westeurope', 3)]")).toEqual(['1', '2', '3']);
    expect(await ev("[pickZones('Microsoft.Compute', 'virtualMachines', 'West Europe', 2, 2)]")).toEqual(['3', '1']);
    expect(await ev("[pickZones('Microsoft.Compute', 'virtualMachines', 'westus')]")).toEqual([]);
    expect(await ev("[pickZones('Microsoft.Web', 'sites', 'westeurope')]")).toEqual([]);
  });
  it('toPhysicalZone(s) / toLogicalZone(s)', async () => {
    expect(await ev("[toPhysicalZone(subscription().subscriptionId, 'westus2', '1')]")).toBe('westus2-az1');
    expect(await ev("[toPhysicalZones(subscription().subscriptionId, 'West US 2', createArray('1','3'))]")).toEqual(['westus2-az1', 'westus2-az3']);
    expect(await ev("[toLogicalZone(subscription().subscriptionId, 'westus2', 'westus2-az2')]")).toBe('2');
    expect(await ev("[toLogicalZones(subscription().subscriptionId, 'westus2', createArray('westus2-az1'))]")).toEqual(['1']);
    expect(cause(await evFails("[toPhysicalZone(subscription().subscriptionId, 'westus2', '4')]")).message).toContain("Unable to evaluate template language function 'toPhysicalZone'");
    expect(cause(await evFails("[toLogicalZone(subscription().subscriptionId, 'westus2', 'eastus-az1')]")).message).toContain("Unable to evaluate template language function 'toLogicalZone'");
  });
  it('managementGroupResourceId', async () => {
    expect(await ev("[managementGroupResourceId('mg1', 'Microsoft.Authorization/policyDefinitions', 'pd1')]")).toBe(
      '/providers/Microsoft.Management/managementGroups/mg1/providers/Microsoft.Authorization/policyDefinitions/pd1',
    );
    expect(cause(await evFails("[managementGroupResourceId('Microsoft.Authorization/policyDefinitions', 'pd1')]")).message).toContain(
      "Unable to evaluate template language function 'managementGroupResourceId'",
    );
  });
  it('deployer()', async () => {
    expect(await ev('[deployer()]')).toEqual({ objectId: '00000000-0000-0000-0000-000000000000', tenantId: 't-1', userPrincipalName: '' });
    expect(await ev('[deployer().objectId]', {}, { ...scope, deployer: { objectId: 'oid-1', userPrincipalName: 'a@b.c' } })).toBe('oid-1');
  });
});

describe('expressions real ARM refuses (quickstart sample: web-app-github-deploy, web-app-asp-app-on-asev3-create)', () => {
  it("resourceId without a namespace/type argument: ARM's 'exactly one multi-segmented argument' error", async () => {
    const e = cause(await evFails("[resourceId('hpn-', resourceGroup().name)]"));
    expect(e.code).toBe('InvalidTemplate');
    expect(e.message).toBe(
      "Unable to evaluate template language function 'resourceId': function requires exactly one multi-segmented argument which must be resource type including resource provider namespace. Current function arguments 'hpn-,rg1'. Please see https://aka.ms/arm-template-expressions/#resourceid for usage details.",
    );
  });
  it('a property an object lacks is an error inside empty() too (ARM evaluates arguments before the call)', async () => {
    const subnets = [{ name: 's1', addressPrefix: '10.0.0.0/24', networkSecurityGroupName: 'nsg1' }];
    const e = cause(await evFails(`[if(empty(createArray(json('${JSON.stringify(subnets[0])}'))[0].routeTableName), json('null'), 'rt')]`));
    expect(e.code).toBe('InvalidTemplate');
    expect(e.message).toBe("The language expression property 'routeTableName' doesn't exist, available properties are 'name, addressPrefix, networkSecurityGroupName'.");
    // what templates that tolerate the property's absence write: if() evaluates only the branch it takes
    expect(await ev(`[if(contains(json('${JSON.stringify(subnets[0])}'), 'routeTableName'), json('${JSON.stringify(subnets[0])}').routeTableName, 'none')]`)).toBe('none');
  });
});
