import { DeploymentScope, evaluateTemplateDeployment } from './index';
import { armErrorOf, SPEC_SCOPE } from './spec-scope';

/**
 * Deployment scripts' outputs (script-outputs.ts): the emulator does not run scripts, so what a
 * template reads from `reference(<script>).outputs` is an unknown value, not an error (quickstart
 * key-vault-certificate-create reads `.outputs.certSecretId.versioned` through a nested deployment's outputs).
 */

const scope: DeploymentScope = SPEC_SCOPE;
const SCRIPT_ID = "[resourceId('Microsoft.Resources/deploymentScripts', 'script1')]";

const script = {
  type: 'Microsoft.Resources/deploymentScripts',
  apiVersion: '2020-10-01',
  name: 'script1',
  location: 'westus2',
  kind: 'AzureCLI',
  properties: { azCliVersion: '2.35.0', retentionInterval: 'P1D', scriptContent: 'echo "{}" > $AZ_SCRIPTS_OUTPUT_PATH' },
};

async function run(template: Record<string, unknown>) {
  return evaluateTemplateDeployment({ scope, template: { $schema: 's', contentVersion: '1.0.0.0', ...template }, fetchTemplate: async () => ({}) });
}

async function fails(template: Record<string, unknown>): Promise<{ code: string; message: string }> {
  const e = await armErrorOf(() => run(template));
  return e.code === 'DeploymentFailed' ? e.details[0] : e;
}

describe('deploymentScripts outputs', () => {
  it('a script resource has outputs (empty: the emulator does not run it)', async () => {
    const res = await run({ resources: [script] });
    expect(res.resources[0].properties).toMatchObject({ provisioningState: 'Succeeded', outputs: {} });
  });

  it('reading an output the script would write gives a placeholder, also nested and indexed', async () => {
    const res = await run({
      resources: [script],
      outputs: {
        name: { type: 'string', value: `[reference(${SCRIPT_ID.slice(1, -1)}, '2020-10-01').outputs.name]` },
        nested: { type: 'string', value: `[reference(${SCRIPT_ID.slice(1, -1)}, '2020-10-01').outputs.certSecretId.versioned]` },
        indexed: { type: 'string', value: `[reference(${SCRIPT_ID.slice(1, -1)}).outputs['items'][0].id]` },
        full: { type: 'string', value: `[reference(${SCRIPT_ID.slice(1, -1)}, '2020-10-01', 'Full').properties.outputs.text]` },
        inFunction: { type: 'string', value: `[toUpper(reference(${SCRIPT_ID.slice(1, -1)}).outputs.text)]` },
        inArray: { type: 'array', value: `[createArray(reference(${SCRIPT_ID.slice(1, -1)}).outputs.thumbprint)]` },
        chosen: { type: 'string', value: `[if(true(), reference(${SCRIPT_ID.slice(1, -1)}).outputs.a.b, 'x')]` },
      },
    });
    expect(res.outputs.name.value).toBe('scriptOutput(name)');
    expect(res.outputs.nested.value).toBe('scriptOutput(certSecretId.versioned)');
    expect(res.outputs.indexed.value).toBe('scriptOutput(items[0].id)');
    expect(res.outputs.full.value).toBe('scriptOutput(text)');
    expect(res.outputs.inFunction.value).toBe('SCRIPTOUTPUT(TEXT)');
    expect(res.outputs.inArray.value).toEqual(['scriptOutput(thumbprint)']);
    expect(res.outputs.chosen.value).toBe('scriptOutput(a.b)');
  });

  it("a nested deployment's outputs built from script outputs reach the parent (the quickstart's shape)", async () => {
    const res = await run({
      resources: [
        {
          type: 'Microsoft.Resources/deployments',
          apiVersion: '2025-04-01',
          name: 'inner',
          properties: {
            mode: 'Incremental',
            expressionEvaluationOptions: { scope: 'inner' },
            template: {
              $schema: 's',
              contentVersion: '1.0.0.0',
              resources: [script],
              outputs: {
                ids: { type: 'array', copy: { count: 1, input: `[createArray(reference(${SCRIPT_ID.slice(1, -1)}, '2020-10-01').outputs.certSecretId.versioned)]` } },
              },
            },
          },
        },
      ],
      outputs: {
        id: { type: 'string', value: "[reference(resourceId('Microsoft.Resources/deployments', 'inner'), '2025-04-01').outputs.ids.value[0][0]]" },
      },
    });
    expect(res.outputs.id.value).toBe('scriptOutput(certSecretId.versioned)');
  });

  it("other objects keep ARM's error for a missing property (also the script's own properties)", async () => {
    const missing = await fails({
      resources: [script],
      outputs: { o: { type: 'string', value: `[reference(${SCRIPT_ID.slice(1, -1)}).nope]` } },
    });
    expect(missing.code).toBe('InvalidTemplate');
    expect(missing.message).toContain("The language expression property 'nope' doesn't exist, available properties are 'azCliVersion, retentionInterval, scriptContent");
    const storage = await fails({
      resources: [{ type: 'Microsoft.Storage/storageAccounts', apiVersion: '2023-01-01', name: 'st1', location: 'westus2', kind: 'StorageV2', sku: { name: 'Standard_LRS' }, properties: {} }],
      outputs: { o: { type: 'string', value: "[reference(resourceId('Microsoft.Storage/storageAccounts', 'st1')).outputs.x]" } },
    });
    expect(storage.message).toContain("The language expression property 'outputs' doesn't exist");
  });
});
