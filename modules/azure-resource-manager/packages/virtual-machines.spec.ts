import * as fs from 'node:fs';
import * as path from 'node:path';
import { countVirtualMachines, declaredResourceTypes, warmWithoutVirtualMachines } from './virtual-machines';

const fixture = (dir: string, file: string) => ({ path: 'main-template.json', data: fs.readFileSync(path.join(__dirname, '..', '..', '..', dir, file)) });

describe('what a package declares (issues 12 and 13)', () => {
  it('counts the virtual machines and lists the resource types of a real template (vm-simple-linux)', () => {
    const files = [fixture('test/fixtures/arm/vm-simple-linux', 'azuredeploy.json')];
    expect(countVirtualMachines(files)).toBe(1);
    expect(declaredResourceTypes(files)).toEqual(
      expect.arrayContaining(['microsoft.compute/virtualmachines', 'microsoft.network/networkinterfaces', 'microsoft.network/publicipaddresses', 'microsoft.network/virtualnetworks']),
    );
  });

  it('the sample web app has no virtual machine: warm regions are refused naming the field', () => {
    const dir = 'templates/arm/sample-webapp';
    const files = [fixture(dir, 'main-template.json'), ...fs.readdirSync(path.join(__dirname, '..', '..', '..', dir, 'nested')).map((f) => ({ ...fixture(dir, `nested/${f}`), path: `nested/${f}` }))];
    expect(countVirtualMachines(files)).toBe(0);
    expect(declaredResourceTypes(files)).toContain('microsoft.web/sites');
    expect(warmWithoutVirtualMachines([{ name: 'westeurope', warm: 0 }, { name: 'eastus', warm: 2 }], 0)).toEqual([expect.objectContaining({ code: 'WarmNeedsVirtualMachines', target: 'testDrive.regions[1].warm' })]);
    expect(warmWithoutVirtualMachines([{ name: 'eastus', warm: 2 }], null)).toEqual([]);
  });
});
