import { ArmTemplateError, DeploymentScope, evaluateTemplateDeployment } from './index';
import { SPEC_SCOPE } from './spec-scope';
import { uniqueString, armGuid } from './hash';
import { armFormat, armUri } from './functions';
import { parseExpression, classifyString } from './expression';

const scope: DeploymentScope = SPEC_SCOPE;

/** Evaluates `expr` as the value of an output and returns the value. */
async function ev(expr: unknown, extra: Record<string, unknown> = {}): Promise<unknown> {
  const template = { $schema: 's', contentVersion: '1.0.0.0', resources: [], ...extra, outputs: { o: { type: 'object', value: expr } } };
  const res = await evaluateTemplateDeployment({ scope, template, fetchTemplate: async () => ({}) });
  return res.outputs.o.value;
}

async function fails(template: unknown, params: Record<string, unknown> = {}): Promise<ArmTemplateError> {
  let caught: unknown;
  try {
    await evaluateTemplateDeployment({ scope, template, parameters: params as never, fetchTemplate: async () => ({}) });
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ArmTemplateError);
  return caught as ArmTemplateError;
}

describe('hash functions', () => {
  it('uniqueString matches Azure outputs and is 13 chars of [a-z2-7]', () => {
    expect(uniqueString(['test'])).toBe('rbgf3xv4ufgzg');
    expect(uniqueString(['hello', 'world'])).toBe('a7wkljktk6wne');
    expect(uniqueString(['abc'])).toBe('cgtzqvhu4i23s');
    expect(uniqueString(['/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-rg'])).toBe('bmg7c6xu4tw46');
    expect(uniqueString(['foo', 'bar', 'baz'])).toBe('xzi4ioaxtmth4');
    expect(uniqueString(['x'])).toMatch(/^[a-z2-7]{13}$/);
    expect(uniqueString(['same'])).toBe(uniqueString(['same']));
  });
  it('guid is a deterministic v5 UUID', async () => {
    const g = armGuid(['a', 'b']);
    expect(g).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await ev("[guid('a','b')]")).toBe(g);
    expect(armGuid(['a', 'c'])).not.toBe(g);
  });
});

describe('expression syntax', () => {
  it('classifies escapes', () => {
    expect(classifyString('[[x]')).toEqual({ expression: false, literal: '[x]' });
    expect(classifyString('[x]')).toEqual({ expression: true, body: 'x' });
    expect(classifyString('[x')).toEqual({ expression: false, literal: '[x' });
  });
  it('parses whitespace before "(", string escapes, accessors', async () => {
    expect(parseExpression("variables ('x')")).toEqual({ kind: 'call', name: 'variables', args: [{ kind: 'literal', value: 'x' }] });
    expect(await ev("[concat('it''s', ' ', string(1))]")).toBe("it's 1");
    expect(await ev("[json('{\"a\":{\"b\":[1,{\"c\":\"d\"}]}}').a.b[1]['c']]")).toBe('d');
    expect(await ev("[CONCAT('a', toUpper('b'))]")).toBe('aB');
    expect(await ev("[json('{\"Name\":1}').name]")).toBe(1);
    expect(await ev('[[not evaluated]')).toBe('[not evaluated]');
  });
});

describe('functions', () => {
  it('format()', () => {
    expect(armFormat('{0}-{1}', ['a', 2])).toBe('a-2');
    expect(armFormat('{0:N0} items', [12345])).toBe('12,345 items');
    expect(armFormat('{{x}} {0:D3}', [7])).toBe('{x} 007');
    expect(armFormat('{0}', [true])).toBe('True');
  });
  it('uri() joining rules', () => {
    expect(armUri('http://a/b/c', 'd')).toBe('http://a/b/d');
    expect(armUri('http://a/b/', 'd')).toBe('http://a/b/d');
    expect(armUri('http://a/b/', '/d')).toBe('http://a/d');
    expect(armUri('http://contoso.com', 'd')).toBe('http://contoso.com/d');
    expect(armUri('https://s/p/', './nested/t.json?sv=1')).toBe('https://s/p/nested/t.json?sv=1');
  });
  it('copyIndex with offset and loop names', async () => {
    const v = await ev("[variables('list')]", {
      variables: { copy: [{ name: 'list', count: 3, input: "[concat('n', copyIndex('list', 1))]" }] },
    });
    expect(v).toEqual(['n1', 'n2', 'n3']);
    const res = await evaluateTemplateDeployment({
      scope,
      fetchTemplate: async () => ({}),
      template: {
        resources: [
          {
            type: 'Microsoft.Storage/storageAccounts',
            apiVersion: '2022-09-01',
            name: "[concat('sa', copyIndex(10))]",
            location: 'westus2',
            copy: { name: 'saLoop', count: 2 },
            properties: { copy: [{ name: 'rules', count: 2, input: { idx: "[copyIndex('rules')]", outer: '[copyIndex()]' } }] },
          },
        ],
        outputs: { names: { type: 'array', copy: { count: 2, input: "[reference(concat('sa', copyIndex(10))).primaryEndpoints.blob]" } } },
      },
    });
    expect(res.resources.map((r) => r.name)).toEqual(['sa10', 'sa11']);
    expect(res.resources[1].properties.rules).toEqual([
      { idx: 0, outer: 1 },
      { idx: 1, outer: 1 },
    ]);
    expect(res.outputs.names.value).toEqual(['https://sa10.blob.core.windows.net/', 'https://sa11.blob.core.windows.net/']);
  });
  it('if() evaluates only the chosen branch (ARM docs)', async () => {
    expect(await ev("[if(true(), 'yes', parameters('doesNotExist'))]")).toBe('yes');
    expect(await ev("[if(equals(1, 2), json('{}').missing, 'no')]")).toBe('no');
  });
  it('logical, comparison, collections, strings, numbers', async () => {
    expect(await ev("[and(true, or(false, not(false)))]")).toBe(true);
    expect(await ev("[createArray(less(1,2), greaterOrEquals('b','a'), equals(json('[1,{\"a\":2}]'), createArray(1, createObject('a', 2))))]")).toEqual([true, true, true]);
    expect(await ev("[coalesce(null(), json('null'), 'x')]")).toBe('x');
    expect(await ev("[createArray(empty(''), empty(createArray()), empty(json('{}')), empty('a'))]")).toEqual([true, true, true, false]);
    expect(await ev("[createArray(contains('abc','b'), contains(createArray(1,2),2), contains(json('{\"Key\":1}'),'key'))]")).toEqual([true, true, true]);
    expect(await ev("[union(json('{\"a\":{\"x\":1}}'), json('{\"a\":{\"y\":2},\"b\":3}'))]")).toEqual({ a: { x: 1, y: 2 }, b: 3 });
    expect(await ev('[union(createArray(1,2), createArray(2,3))]')).toEqual([1, 2, 3]);
    expect(await ev('[intersection(createArray(1,2,3), createArray(2,3,4))]')).toEqual([2, 3]);
    expect(await ev("[items(json('{\"b\":1,\"a\":2}'))]")).toEqual([
      { key: 'a', value: 2 },
      { key: 'b', value: 1 },
    ]);
    expect(await ev("[createArray(first('abc'), last(createArray(1,2)), length('abcd'), take('abcd',2), skip(createArray(1,2,3),1))]")).toEqual(['a', 2, 4, 'ab', [2, 3]]);
    expect(await ev('[createArray(min(3,1,2), max(createArray(4,9)), range(2,3), add(1,2), sub(5,7), mul(3,4), div(7,2), mod(7,3))]')).toEqual([1, 9, [2, 3, 4], 3, -2, 12, 3, 1]);
    expect(await ev("[createArray(split('a,b;c', createArray(',', ';')), join(createArray('a','b'), '-'), replace('aXbX','X','.'), trim('  x '), substring('hello', 1, 3))]")).toEqual([['a', 'b', 'c'], 'a-b', 'a.b.', 'x', 'ell']);
    expect(await ev("[createArray(indexOf('Hello','L'), lastIndexOf('hello','l'), startsWith('Hello','he'), endsWith('hello','LO'), padLeft('7', 3, '0'))]")).toEqual([2, 3, true, true, '007']);
    expect(await ev("[createArray(base64('hi'), base64ToString('aGk='), base64ToJson(base64('{\"a\":1}')).a, dataUri('hi'), uriComponent('a b/c'), uriComponentToString('a%20b'))]")).toEqual([
      'aGk=',
      'hi',
      1,
      'data:text/plain;charset=utf8;base64,aGk=',
      'a%20b%2Fc',
      'a b',
    ]);
    expect(await ev("[createArray(int('42'), bool('true'), float('1.5'), string(json('{\"a\":1}')), string(true), array('x'))]")).toEqual([42, true, 1.5, '{"a":1}', 'True', ['x']]);
    expect(await ev("[dateTimeAdd('2020-04-07T14:53:14Z', 'P1DT1H')]")).toBe('2020-04-08T15:53:14Z');
    expect(await ev("[tryGet(json('{\"a\":{\"b\":1}}'), 'a', 'c')]")).toBeNull();
    expect(await ev("[map(filter(range(0,5), lambda('i', greater(lambdaVariables('i'), 2))), lambda('x', mul(lambdaVariables('x'), 10)))]")).toEqual([30, 40]);
    expect(await ev("[pickZones('Microsoft.Compute', 'virtualMachines', 'westus2')]")).toEqual(['1']);
  });
  it('scope functions', async () => {
    expect(await ev('[resourceGroup()]')).toMatchObject({ id: '/subscriptions/sub-1/resourceGroups/rg1', name: 'rg1', location: 'westus2', properties: { provisioningState: 'Succeeded' } });
    expect(await ev('[subscription()]')).toMatchObject({ id: '/subscriptions/sub-1', subscriptionId: 'sub-1', tenantId: 't-1' });
    expect(await ev('[tenant().tenantId]')).toBe('t-1');
    expect(await ev('[deployment().name]')).toBe('dep1');
    expect(await ev('[createArray(environment().name, environment().suffixes.storage, environment().suffixes.sqlServerHostname, environment().resourceManager)]')).toEqual([
      'AzureCloud',
      'core.windows.net',
      '.database.windows.net',
      'https://localhost:8443/',
    ]);
    expect(await ev("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vn', 'sn')]")).toBe('/subscriptions/sub-1/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vn/subnets/sn');
    expect(await ev("[resourceId('other', 'Microsoft.Web/sites/', 'w')]")).toBe('/subscriptions/sub-1/resourceGroups/other/providers/Microsoft.Web/sites/w');
    expect(await ev("[resourceId('s2', 'other', 'Microsoft.Web/sites', 'w')]")).toBe('/subscriptions/s2/resourceGroups/other/providers/Microsoft.Web/sites/w');
    expect(await ev("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r')]")).toBe('/subscriptions/sub-1/providers/Microsoft.Authorization/roleDefinitions/r');
    expect(await ev("[tenantResourceId('Microsoft.Management/managementGroups', 'm')]")).toBe('/providers/Microsoft.Management/managementGroups/m');
    expect(await ev("[extensionResourceId(resourceGroup().id, 'Microsoft.Authorization/locks', 'l')]")).toBe('/subscriptions/sub-1/resourceGroups/rg1/providers/Microsoft.Authorization/locks/l');
  });
  it('newGuid/utcNow only in parameter defaults', async () => {
    const res = await evaluateTemplateDeployment({
      scope,
      fetchTemplate: async () => ({}),
      template: { resources: [], parameters: { g: { type: 'string', defaultValue: '[newGuid()]' }, t: { type: 'string', defaultValue: "[utcNow('u')]" } }, outputs: { g: { type: 'string', value: "[parameters('g')]" }, t: { type: 'string', value: "[parameters('t')]" } } },
    });
    expect(res.outputs.g.value).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.outputs.t.value).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
    const err = await fails({ resources: [], outputs: { g: { type: 'string', value: '[newGuid()]' } } });
    expect(err.code).toBe('InvalidTemplate');
  });
  it('reference Full, listKeys, child resources, nested inline deployments (inner/outer)', async () => {
    const res = await evaluateTemplateDeployment({
      scope,
      fetchTemplate: async () => ({}),
      parameters: { prefix: { value: 'p' } },
      template: {
        parameters: { prefix: { type: 'string' } },
        variables: { sa: "[concat(parameters('prefix'), 'store')]" },
        resources: [
          {
            type: 'Microsoft.Sql/servers',
            apiVersion: '2021-11-01',
            name: 'srv',
            location: 'westus2',
            properties: {},
            resources: [{ type: 'databases', apiVersion: '2021-11-01', name: 'db', location: 'westus2', dependsOn: ['srv'], properties: {} }],
          },
          { type: 'Microsoft.Storage/storageAccounts', apiVersion: '2022-09-01', name: "[variables('sa')]", location: 'westus2', kind: 'StorageV2', sku: { name: 'Standard_LRS' } },
          {
            type: 'Microsoft.Resources/deployments',
            apiVersion: '2022-09-01',
            name: 'innerDep',
            resourceGroup: 'other-rg',
            properties: {
              mode: 'Incremental',
              expressionEvaluationOptions: { scope: 'inner' },
              parameters: { n: { value: "[variables('sa')]" } },
              template: {
                parameters: { n: { type: 'string' } },
                resources: [{ type: 'Microsoft.KeyVault/vaults', apiVersion: '2022-07-01', name: "[concat(parameters('n'), 'kv')]", location: '[resourceGroup().location]', properties: {} }],
                outputs: { uri: { type: 'string', value: "[reference(concat(parameters('n'), 'kv')).vaultUri]" }, rg: { type: 'string', value: '[resourceGroup().name]' } },
              },
            },
          },
          {
            type: 'Microsoft.Resources/deployments',
            apiVersion: '2022-09-01',
            name: 'outerDep',
            properties: {
              mode: 'Incremental',
              template: { resources: [], outputs: { v: { type: 'string', value: "[variables('sa')]" } } },
            },
          },
        ],
        outputs: {
          full: { type: 'object', value: "[reference(resourceId('Microsoft.Storage/storageAccounts', variables('sa')), '2022-09-01', 'Full')]" },
          key: { type: 'string', value: "[listKeys(variables('sa'), '2022-09-01').keys[0].value]" },
          db: { type: 'string', value: "[reference(resourceId('Microsoft.Sql/servers/databases', 'srv', 'db')).provisioningState]" },
          inner: { type: 'object', value: "[reference('innerDep').outputs]" },
          outer: { type: 'string', value: "[reference('outerDep').outputs.v.value]" },
        },
      },
    });
    expect(res.outputs.full.value).toMatchObject({ kind: 'StorageV2', sku: { name: 'Standard_LRS' }, name: 'pstore', type: 'Microsoft.Storage/storageAccounts', properties: { provisioningState: 'Succeeded' } });
    expect(res.outputs.key.value).toMatch(/^[A-Za-z0-9+/=]{80,}$/);
    expect(res.outputs.db.value).toBe('Succeeded');
    expect(res.outputs.inner.value).toEqual({ uri: { type: 'String', value: 'https://pstorekv.vault.azure.net/' }, rg: { type: 'String', value: 'other-rg' } });
    expect(res.outputs.outer.value).toBe('pstore');
    expect(res.resources.find((r) => r.type === 'Microsoft.KeyVault/vaults')?.resourceGroupName).toBe('other-rg');
    expect(res.resources.find((r) => r.type === 'Microsoft.Sql/servers/databases')?.name).toBe('srv/db');
    expect(res.nestedDeployments.map((n) => [n.name, n.resourceGroupName])).toEqual([
      ['innerDep', 'other-rg'],
      ['outerDep', 'rg1'],
    ]);
  });
});

describe('errors', () => {
  it('unknown function -> InvalidTemplate at validation', async () => {
    const err = await fails({ resources: [], outputs: { o: { type: 'string', value: "[foo('x')]" } } });
    expect(err.code).toBe('InvalidTemplate');
    expect(err.phase).toBe('validation');
    expect(err.message).toBe("Deployment template validation failed: 'The template function 'foo' is not valid. Please see https://aka.ms/arm-functions for usage details.'");
  });
  it('missing parameter', async () => {
    const err = await fails({ resources: [], parameters: { x: { type: 'string' } } });
    expect(err.code).toBe('InvalidTemplate');
    expect(err.message).toContain("The value for the template parameter 'x' at line '1' and column '1' is not provided.");
  });
  it('type mismatch and undeclared parameters', async () => {
    expect((await fails({ resources: [], parameters: { x: { type: 'int' } } }, { x: { value: 'abc' } })).message).toContain("Expected 'Integer'");
    expect((await fails({ resources: [] }, { y: { value: 1 } })).message).toContain("The template parameters 'y'");
  });
  it('bad expression syntax', async () => {
    for (const bad of ["[concat('a']", "[concat('a)]", '[concat(a)]', '[concat(1,,2)]', '[]', "[concat('a') x]"]) {
      const err = await fails({ resources: [], outputs: { o: { type: 'string', value: bad } } });
      expect(err.code).toBe('InvalidTemplate');
    }
  });
  it('cyclic variables', async () => {
    const err = await fails({ resources: [], variables: { a: "[variables('b')]", b: "[concat(variables('c'))]", c: "[variables('a')]" }, outputs: { o: { type: 'string', value: "[variables('a')]" } } });
    expect(err.code).toBe('DeploymentFailed');
    expect(err.details[0].code).toBe('InvalidTemplate');
    expect(err.details[0].message).toContain('circular reference');
  });
  it('10k-deep nesting (expressions, JSON values, variable chains) never overflows the stack', async () => {
    const deepExpr = `[${'concat('.repeat(10000)}'x'${')'.repeat(10000)}]`;
    expect((await fails({ resources: [], outputs: { o: { type: 'string', value: deepExpr } } })).code).toBe('InvalidTemplate');
    const deepJson = JSON.parse(`${'['.repeat(10000)}1${']'.repeat(10000)}`);
    expect((await fails({ resources: [], outputs: { o: { type: 'array', value: deepJson } } })).code).toBe('InvalidTemplate');
    const variables: Record<string, string> = {};
    for (let i = 0; i < 10000; i++) variables[`v${i}`] = `[variables('v${i + 1}')]`;
    variables.v10000 = 'end';
    const err = await fails({ resources: [], variables, outputs: { o: { type: 'string', value: "[variables('v0')]" } } });
    expect(err.code).toBe('DeploymentFailed');
    expect(err.details[0].code).toBe('InvalidTemplate');
  });
  it('reference to a missing or condition-skipped resource -> DeploymentFailed / ResourceNotFound', async () => {
    const err = await fails({
      resources: [{ condition: false, type: 'Microsoft.Network/publicIPAddresses', apiVersion: '2021-05-01', name: 'ip', location: 'x', properties: {} }],
      outputs: { o: { type: 'string', value: "[reference(resourceId('Microsoft.Network/publicIPAddresses', 'ip')).ipAddress]" } },
    });
    expect(err.code).toBe('DeploymentFailed');
    expect(err.phase).toBe('runtime');
    expect(err.details[0].code).toBe('ResourceNotFound');
    expect(err.details[0].message).toContain("The Resource 'Microsoft.Network/publicIPAddresses/ip' under resource group 'rg1' was not found.");
    const err2 = await fails({ resources: [], outputs: { o: { type: 'object', value: "[reference(resourceId('Microsoft.Storage/storageAccounts', 'nope'))]" } } });
    expect(err2.details[0].code).toBe('ResourceNotFound');
  });
  it('existingResources are visible to reference()', async () => {
    const id = '/subscriptions/sub-1/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/old';
    const res = await evaluateTemplateDeployment({
      scope,
      fetchTemplate: async () => ({}),
      existingResources: [{ id, type: 'Microsoft.Storage/storageAccounts', name: 'old', properties: { foo: 'bar' }, resourceGroupName: 'rg1', subscriptionId: 'sub-1' }],
      template: { resources: [], outputs: { o: { type: 'string', value: `[reference('${id}').foo]` } } },
    });
    expect(res.outputs.o.value).toBe('bar');
  });
  it('malformed inputs: not JSON, no resources, self-recursive linked template', async () => {
    expect((await fails('{ not json')).code).toBe('InvalidTemplate');
    expect((await fails({ outputs: {} })).code).toBe('InvalidTemplate');
    const self = {
      resources: [{ type: 'Microsoft.Resources/deployments', apiVersion: '2022-09-01', name: 'again', properties: { mode: 'Incremental', templateLink: { uri: 'https://x.example/t.json' } } }],
    };
    let err: unknown;
    try {
      await evaluateTemplateDeployment({ scope, templateLink: { uri: 'https://x.example/t.json' }, fetchTemplate: async () => JSON.stringify(self) });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ArmTemplateError);
    expect((err as ArmTemplateError).code).toBe('DeploymentFailed');
    expect((err as ArmTemplateError).details[0].message).toContain('maximum nesting depth');
  });
});
