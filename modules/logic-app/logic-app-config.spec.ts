import { ErrorDetail } from '../../src/common/api-error';
import { ValidatedTestDriveConfig } from '../../src/test-drives/test-drive-type';
import { validateLogicAppConfig } from './logic-app-config';

const dep = { subscriptionId: 'AAAAAAAA-0000-0000-0000-000000000001', tenantId: '00000000-0000-0000-0000-000000000002', clientId: '00000000-0000-0000-0000-000000000003', clientSecret: 's3cret' };
const td = (over: Record<string, unknown> = {}) => ({
  type: 'logic-app',
  region: 'WestEurope ',
  maxConcurrent: 2,
  durationHours: 2,
  resourceGroupName: 'rg-td.(1)',
  logicAppName: 'td-provision',
  deprovisionLogicAppName: 'td_deprovision.v2',
  ...over,
});
const problems = (t: Record<string, unknown>, d: Record<string, unknown> | undefined = dep): ErrorDetail[] => {
  const r = validateLogicAppConfig(t, d);
  if (!Array.isArray(r)) throw new Error('expected problems');
  return r;
};
const targets = (p: ErrorDetail[]) => p.map((x) => x.target).sort();

describe('validateLogicAppConfig', () => {
  it('normalises a valid config (region and GUIDs lower case, no secret) and needs a client secret', () => {
    const r = validateLogicAppConfig(td({ accessInformation: '<p>{{userName}}</p>', description: 'd' }), dep) as ValidatedTestDriveConfig;
    expect(r.testDrive).toEqual({ ...td(), region: 'westeurope', accessInformation: '<p>{{userName}}</p>', description: 'd' });
    expect(r.deployment).toEqual({ subscriptionId: dep.subscriptionId.toLowerCase(), tenantId: dep.tenantId, clientId: dep.clientId });
    expect(JSON.stringify(r)).not.toContain('s3cret');
    expect(r.needsClientSecret).toBe(true);
  });

  it('refuses an unknown region, naming the known ones', () => {
    const p = problems(td({ region: 'atlantis' }));
    expect(p).toEqual([expect.objectContaining({ target: 'testDrive.region', message: expect.stringContaining('Known regions: eastus') })]);
  });

  it.each([0, 100, 1.5, '2', null])('refuses maxConcurrent %p (whole 1-99)', (v) => {
    expect(targets(problems(td({ maxConcurrent: v })))).toEqual(['testDrive.maxConcurrent']);
  });

  it.each([0, 1.5, 100, '2'])('refuses durationHours %p (whole hours 1-99)', (v) => {
    expect(targets(problems(td({ durationHours: v })))).toEqual(['testDrive.durationHours']);
  });

  it.each(['', 'rg with space', 'rg.', 'a'.repeat(91), 'rg/x', 'rg#'])('refuses resourceGroupName %p (Azure naming rule)', (v) => {
    expect(targets(problems(td({ resourceGroupName: v })))).toContain('testDrive.resourceGroupName');
  });

  it('accepts a 90-character resource group and an 80-character Logic App name', () => {
    expect(Array.isArray(validateLogicAppConfig(td({ resourceGroupName: 'r'.repeat(90), logicAppName: 'l'.repeat(80) }), dep))).toBe(false);
  });

  it.each(['', 'a'.repeat(81), 'wf name', 'wf/x', 'wf:1'])('refuses Logic App names %p', (v) => {
    expect(targets(problems(td({ logicAppName: v, deprovisionLogicAppName: v })))).toEqual(['testDrive.deprovisionLogicAppName', 'testDrive.logicAppName']);
  });

  it('refuses a deprovisioning Logic App that is the provisioning one (Azure names are case-insensitive)', () => {
    for (const v of ['td-provision', 'TD-Provision']) {
      expect(problems(td({ deprovisionLogicAppName: v }))).toEqual([
        expect.objectContaining({ target: 'testDrive.deprovisionLogicAppName', message: expect.stringContaining('must name another Logic App than logicAppName') }),
      ]);
    }
  });

  it('refuses missing fields, unknown fields, and too long texts', () => {
    const { logicAppName: _l, ...rest } = td();
    void _l;
    expect(targets(problems(rest))).toEqual(['testDrive.logicAppName']);
    expect(problems(td({ regions: [] }))).toEqual([expect.objectContaining({ code: 'UnknownField', target: 'testDrive.regions' })]);
    expect(targets(problems(td({ accessInformation: 'x'.repeat(10001), description: 'x'.repeat(3001) })))).toEqual(['testDrive.accessInformation', 'testDrive.description']);
  });

  it('checks the deployment: required, GUIDs, secret length, no unknown fields', () => {
    expect(targets(validateLogicAppConfig(td(), undefined) as ErrorDetail[])).toEqual(['deployment']);
    expect(targets(problems(td(), { ...dep, subscriptionId: 'x', tenantId: 'y' }))).toEqual(['deployment.subscriptionId', 'deployment.tenantId']);
    expect(targets(problems(td(), { ...dep, clientSecret: 'x'.repeat(1025) }))).toEqual(['deployment.clientSecret']);
    expect(targets(problems(td(), { ...dep, tenantName: 'x' }))).toEqual(['deployment.tenantName']);
    const { subscriptionId: _s, ...noSub } = dep;
    void _s;
    expect(targets(problems(td(), noSub))).toEqual(['deployment.subscriptionId']);
  });
});
