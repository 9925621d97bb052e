import { analyseMainTemplate } from './template-parameters';
import { countVirtualMachines } from './virtual-machines';

/** ARM's template syntax allows `//` and block comments; a package carrying them is a valid package. */
describe('main-template.json with comments', () => {
  const text = [
    '\uFEFF{',
    '  "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", // the schema',
    '  "contentVersion": "1.0.0.0",',
    '  /* parameters the service fills */',
    '  "parameters": { "adminPassword": { "type": "securestring", "metadata": { "type": "password" } } },',
    '  "resources": [ { "type": "Microsoft.Compute/virtualMachines", "apiVersion": "2023-03-01", "name": "vm" } ] // one VM',
    '}',
  ].join('\n');

  it('is analysed, its parameters recognised', () => {
    const a = analyseMainTemplate(Buffer.from(text));
    expect(a.ok).toBe(true);
    if (a.ok) expect(a.parameters.map((p) => p.name)).toEqual(['adminPassword']);
  });

  it('counts its virtual machines', () => {
    expect(countVirtualMachines([{ path: 'main-template.json', data: Buffer.from(text) }])).toBe(1);
  });

  it('text that is not JSON is still refused as InvalidTemplateJson', () => {
    const a = analyseMainTemplate(Buffer.from('{"parameters": {},, }'));
    expect(a.ok ? [] : a.problems.map((p) => p.code)).toEqual(['InvalidTemplateJson']);
  });
});
