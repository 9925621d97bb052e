import { ErrorDetail } from '../../src/common/api-error';
import { ValidatedTestDriveConfig } from '../../src/test-drives/test-drive-type';
import { validateArmConfig } from './arm-config';

const GUID = (n: number) => `00000000-0000-0000-0000-00000000000${n}`;
const td = (over: Record<string, unknown> = {}) => ({ type: 'azure-resource-manager', durationHours: 2, regions: [{ name: 'westeurope', hot: 1, cold: 2 }], ...over });
const dep = (over: Record<string, unknown> = {}) => ({ subscriptionId: GUID(1), tenantId: GUID(2), clientId: GUID(3), clientSecret: 's3cret', ...over });

function problems(testDrive: Record<string, unknown>, deployment: Record<string, unknown> | undefined = dep()): ErrorDetail[] {
  const r = validateArmConfig(testDrive, deployment);
  if (!Array.isArray(r)) throw new Error(`expected problems, got ${JSON.stringify(r)}`);
  return r;
}
const targets = (p: ErrorDetail[]) => p.map((x) => x.target);

describe('validateArmConfig', () => {
  it('returns normalised settings without the secret', () => {
    const r = validateArmConfig(
      td({ regions: [{ name: ' WestEurope ', hot: 1, cold: 0 }], description: 'd', accessInformation: 'a' }),
      dep({ tenantId: '0000000A-0000-0000-0000-000000000002' }),
    ) as ValidatedTestDriveConfig;
    expect(Array.isArray(r)).toBe(false);
    expect(r.testDrive).toEqual({ type: 'azure-resource-manager', durationHours: 2, regions: [{ name: 'westeurope', hot: 1, cold: 0 }], description: 'd', accessInformation: 'a' });
    expect(r.deployment).toEqual({ subscriptionId: GUID(1), tenantId: '0000000a-0000-0000-0000-000000000002', clientId: GUID(3) });
    expect(JSON.stringify(r)).not.toContain('s3cret');
    expect(r.needsClientSecret).toBe(true);
  });

  it('accepts a missing clientSecret (the offers service decides whether it is required)', () => {
    const d = dep();
    delete (d as Record<string, unknown>).clientSecret;
    expect(Array.isArray(validateArmConfig(td(), d))).toBe(false);
  });

  it.each([
    [1.5, /whole number of hours/],
    [0, /at least 1/],
    [100, /at most 99/],
    ['2', /number/],
  ])('durationHours %j is refused', (v, msg) => {
    const p = problems(td({ durationHours: v }));
    expect(targets(p)).toEqual(['testDrive.durationHours']);
    expect(p[0].message).toMatch(msg);
  });

  it('accepts durationHours 1 and 99', () => {
    expect(Array.isArray(validateArmConfig(td({ durationHours: 1 }), dep()))).toBe(false);
    expect(Array.isArray(validateArmConfig(td({ durationHours: 99 }), dep()))).toBe(false);
  });

  it('requires 1-26 regions', () => {
    expect(targets(problems(td({ regions: [] })))).toEqual(['testDrive.regions']);
    const many = Array.from({ length: 27 }, (_, i) => ({ name: `r${i}`, hot: 1, cold: 0 }));
    expect(problems(td({ regions: many })).some((p) => p.target === 'testDrive.regions' && /26/.test(p.message))).toBe(true);
  });

  it('names an unknown region and hints the known ones', () => {
    const p = problems(td({ regions: [{ name: 'westeurope', hot: 1, cold: 0 }, { name: 'marsnorth', hot: 1, cold: 0 }] }));
    expect(targets(p)).toEqual(['testDrive.regions[1].name']);
    expect(p[0].message).toMatch(/Unknown region 'marsnorth'/);
    expect(p[0].message).toMatch(/westeurope/);
  });

  it('refuses duplicate regions (case-insensitive)', () => {
    const p = problems(td({ regions: [{ name: 'westeurope', hot: 1, cold: 0 }, { name: 'WestEurope', hot: 0, cold: 1 }] }));
    expect(p).toEqual([expect.objectContaining({ code: 'DuplicateRegion', target: 'testDrive.regions[1].name' })]);
  });

  it.each([
    ['hot', -1],
    ['hot', 100],
    ['cold', 1.5],
    ['cold', '3'],
  ])('refuses %s = %j with the field path', (field, v) => {
    const p = problems(td({ regions: [{ name: 'eastus', hot: 1, cold: 1 }, { name: 'westeurope', hot: 1, cold: 1, [field]: v }] }));
    expect(targets(p)).toEqual([`testDrive.regions[1].${field}`]);
  });

  it('requires at least one instance per region', () => {
    const p = problems(td({ regions: [{ name: 'westeurope', hot: 0, cold: 0 }] }));
    expect(targets(p)).toEqual(['testDrive.regions[0].hot']);
    expect(p[0].message).toMatch(/at least 1/);
  });

  it('limits description and access information', () => {
    expect(targets(problems(td({ description: 'x'.repeat(3001) })))).toEqual(['testDrive.description']);
    expect(targets(problems(td({ accessInformation: 'x'.repeat(10001) })))).toEqual(['testDrive.accessInformation']);
    expect(Array.isArray(validateArmConfig(td({ description: 'x'.repeat(3000), accessInformation: 'x'.repeat(10000) }), dep()))).toBe(false);
  });

  it('refuses unknown fields, naming them', () => {
    const p = problems(td({ warm: 3, regions: [{ name: 'westeurope', hot: 1, cold: 0, spare: 1 }] }), dep({ password: 'x' }));
    expect(targets(p).sort()).toEqual(['deployment.password', 'testDrive.regions[0].spare', 'testDrive.warm'].sort());
    expect(p.every((x) => x.code === 'UnknownField')).toBe(true);
  });

  it('checks the deployment GUIDs and secret length', () => {
    const p = problems(td(), dep({ subscriptionId: 'nope', tenantId: 42, clientId: undefined, clientSecret: 'x'.repeat(1025) }));
    expect(targets(p).sort()).toEqual(['deployment.clientId', 'deployment.clientSecret', 'deployment.subscriptionId', 'deployment.tenantId']);
    expect(targets(problems(td(), dep({ clientSecret: '' })))).toEqual(['deployment.clientSecret']);
  });

  it('requires the deployment section', () => {
    const r = validateArmConfig(td(), undefined) as ErrorDetail[];
    expect(targets(r)).toEqual(['deployment']);
  });

  it('collects problems of both sections at once', () => {
    const p = problems(td({ durationHours: 0, regions: [{ name: 'nowhere', hot: 200, cold: 0 }] }), dep({ tenantId: 'x' }));
    expect(targets(p).sort()).toEqual(['deployment.tenantId', 'testDrive.durationHours', 'testDrive.regions[0].hot', 'testDrive.regions[0].name'].sort());
  });

  it('refuses another type name', () => {
    expect(targets(problems(td({ type: 'power-bi' })))).toEqual(['testDrive.type']);
  });

  it('takes warm instances per region (issue 12): 0-99, default 0; hot + warm + cold at least 1', () => {
    const ok = validateArmConfig(td({ regions: [{ name: 'westeurope', hot: 0, warm: 2, cold: 0 }] }), dep());
    expect(Array.isArray(ok)).toBe(false);
    expect((ok as unknown as { testDrive: { regions: unknown[] } }).testDrive.regions).toEqual([{ name: 'westeurope', hot: 0, warm: 2, cold: 0 }]);
    expect(targets(problems(td({ regions: [{ name: 'westeurope', hot: 0, warm: 100, cold: 0 }] }), dep()))).toEqual(['testDrive.regions[0].warm']);
    expect(targets(problems(td({ regions: [{ name: 'westeurope', hot: 0, warm: 0, cold: 0 }] }), dep()))).toEqual(['testDrive.regions[0].hot']);
  });

  it('takes a forecast hot policy (issue 15) and stores only the given fields', () => {
    const ok = validateArmConfig(td({ regions: [{ name: 'westeurope', hot: { policy: 'forecast', min: 1, max: 10 }, cold: 2 }] }), dep());
    expect((ok as unknown as { testDrive: { regions: unknown[] } }).testDrive.regions).toEqual([{ name: 'westeurope', hot: { policy: 'forecast', min: 1, max: 10 }, cold: 2 }]);
    const capped = validateArmConfig(td({ regions: [{ name: 'westeurope', hot: { policy: 'forecast', min: 0, max: 4, maxInstanceHoursPerDay: 48 }, cold: 0 }] }), dep());
    expect((capped as unknown as { testDrive: { regions: Array<{ hot: unknown }> } }).testDrive.regions[0].hot).toEqual({ policy: 'forecast', min: 0, max: 4, maxInstanceHoursPerDay: 48 });
  });

  it.each([
    [{ policy: 'forecast', min: 5, max: 2 }, 'testDrive.regions[0].hot.min', /at most hot.max/],
    [{ policy: 'forecast', min: 0, max: 100 }, 'testDrive.regions[0].hot.max', /at most 99/],
    [{ policy: 'forecast', min: 0, max: 0 }, 'testDrive.regions[0].hot.max', /at least 1/],
    [{ policy: 'forecast', min: -1, max: 3 }, 'testDrive.regions[0].hot.min', /at least 0/],
    [{ policy: 'forecast', min: 1.5, max: 3 }, 'testDrive.regions[0].hot.min', /whole number/],
    [{ policy: 'forecst', min: 1, max: 3 }, 'testDrive.regions[0].hot.policy', /"forecast"/],
    [{ policy: 'forecast', min: 1, max: 3, maxInstanceHoursPerDay: 0 }, 'testDrive.regions[0].hot.maxInstanceHoursPerDay', /more than 0/],
    [{ policy: 'forecast', min: 1, max: 3, maxInstanceHoursPerDay: 5000 }, 'testDrive.regions[0].hot.maxInstanceHoursPerDay', /at most 2376/],
    [{ policy: 'forecast', min: 1, max: 3, spare: true }, 'testDrive.regions[0].hot.spare', /./],
    [{ min: 1, max: 3 }, 'testDrive.regions[0].hot.policy', /./],
    ['3', 'testDrive.regions[0].hot', /whole number 0-99 or \{"policy": "forecast"/],
  ])('refuses hot %j naming %s', (hot, target, msg) => {
    const p = problems(td({ regions: [{ name: 'westeurope', hot, cold: 1 }] }));
    expect(targets(p)).toEqual([target]);
    expect(p[0].message).toMatch(msg);
  });

  it('counts a forecast policy by its max for "at least one instance"', () => {
    expect(Array.isArray(validateArmConfig(td({ regions: [{ name: 'westeurope', hot: { policy: 'forecast', min: 0, max: 1 }, cold: 0 }] }), dep()))).toBe(false);
  });
});
