import { DEFAULT_ACCESS_INFORMATION, DynamicsTestDriveConfig, dataverseVersionOf, dynamicsOutboundUrls, validateDynamicsConfig } from './dynamics-config';
import { outboundPolicyFor } from '../../src/security/outbound-url';

const td = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  type: 'dynamics-365',
  product: 'customer-engagement',
  durationHours: 2,
  maxConcurrent: 3,
  instanceUrl: 'https://contoso.crm.dynamics.com/',
  instanceWebApiUrl: 'https://contoso.crm.dynamics.com/api/data/v9.2',
  roleName: 'Salesperson',
  licenseSku: 'DYN365_ENTERPRISE_PLAN1',
  ...over,
});
const dep = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  tenantId: 'AAAAAAAA-0000-0000-0000-000000000001',
  tenantName: 'Contoso.onmicrosoft.com',
  clientId: '00000000-0000-0000-0000-000000000002',
  clientSecret: 's3cret',
  ...over,
});
const problems = (t: Record<string, unknown>, d: Record<string, unknown> | undefined = dep()) => {
  const r = validateDynamicsConfig(t, d);
  return Array.isArray(r) ? r : [];
};
const targets = (t: Record<string, unknown>, d?: Record<string, unknown>) => problems(t, d).map((p) => p.target);

describe('validateDynamicsConfig', () => {
  it('accepts a Customer Engagement offer and normalises it (URLs, GUIDs, tenant name, default access information; no secret)', () => {
    const r = validateDynamicsConfig(td(), dep());
    expect(Array.isArray(r)).toBe(false);
    if (Array.isArray(r)) return;
    const cfg = r.testDrive as unknown as DynamicsTestDriveConfig;
    expect(cfg).toMatchObject({ instanceUrl: 'https://contoso.crm.dynamics.com', instanceWebApiUrl: 'https://contoso.crm.dynamics.com/api/data/v9.2/', accessInformation: DEFAULT_ACCESS_INFORMATION });
    expect(r.deployment).toEqual({ tenantId: 'aaaaaaaa-0000-0000-0000-000000000001', tenantName: 'contoso.onmicrosoft.com', clientId: '00000000-0000-0000-0000-000000000002' });
    expect(JSON.stringify(r)).not.toContain('s3cret');
    expect(r.needsClientSecret).toBe(true);
  });

  it('accepts Operations with a legal entity (upper-cased) and Business Central without one', () => {
    const fo = validateDynamicsConfig(td({ product: 'operations', roleName: 'LEDGERACCOUNTANT', trialLegalEntity: 'usmf', instanceWebApiUrl: 'https://contoso.operations.dynamics.com/data' }), dep());
    expect(Array.isArray(fo) ? fo : (fo.testDrive as unknown as DynamicsTestDriveConfig).trialLegalEntity).toBe('USMF');
    expect(problems(td({ product: 'business-central', roleName: 'D365 READ', instanceWebApiUrl: 'https://api.businesscentral.dynamics.com/v2.0/t/production/api/microsoft/automation/v2.0' }))).toEqual([]);
  });

  it.each([
    ['product', { product: 'nav' }],
    ['durationHours', { durationHours: 1.5 }],
    ['durationHours', { durationHours: 0 }],
    ['durationHours', { durationHours: '2' }],
    ['maxConcurrent', { maxConcurrent: 0 }],
    ['maxConcurrent', { maxConcurrent: 100 }],
    ['maxConcurrent', { maxConcurrent: 2.5 }],
    ['instanceUrl', { instanceUrl: 'http://contoso.crm.dynamics.com' }],
    ['instanceUrl', { instanceUrl: 'contoso.crm.dynamics.com' }],
    ['instanceUrl', { instanceUrl: 'https://contoso.crm.dynamics.com/?x=1' }],
    ['instanceWebApiUrl', { instanceWebApiUrl: 'https://contoso.crm.dynamics.com/api/data' }],
    ['instanceWebApiUrl', { instanceWebApiUrl: 'https://contoso.crm.dynamics.com/api/data/v8.2' }],
    ['instanceWebApiUrl', { instanceWebApiUrl: 'ftp://contoso.crm.dynamics.com/api/data/v9.2' }],
    ['roleName', { roleName: '' }],
    ['roleName', { roleName: 'x'.repeat(101) }],
    ['licenseSku', { licenseSku: 'not a sku!' }],
    ['trialLegalEntity', { trialLegalEntity: 'USMF' }],
    ['description', { description: 'x'.repeat(3001) }],
    ['accessInformation', { accessInformation: 'x'.repeat(10001) }],
    ['regions', { regions: [] }],
  ])('refuses a bad %s, naming testDrive.<field>', (field, over) => {
    expect(targets(td(over))).toContain(`testDrive.${field}`);
  });

  it('requires a legal entity and an AOT role name for Operations', () => {
    expect(targets(td({ product: 'operations', instanceWebApiUrl: 'https://x.operations.dynamics.com/data' }))).toEqual(['testDrive.trialLegalEntity']);
    expect(targets(td({ product: 'operations', trialLegalEntity: 'USMFX', roleName: 'Ledger accountant', instanceWebApiUrl: 'https://x.operations.dynamics.com/data' })).sort()).toEqual(['testDrive.roleName', 'testDrive.trialLegalEntity']);
  });

  it.each([
    ['tenantId', { tenantId: 'nope' }],
    ['tenantName', { tenantName: 'contoso.com' }],
    ['tenantName', { tenantName: 'contoso.onmicrosoft.com.evil.com' }],
    ['clientId', { clientId: '' }],
    ['clientSecret', { clientSecret: '' }],
    ['clientSecret', { clientSecret: 'x'.repeat(1025) }],
    ['subscriptionId', { subscriptionId: '00000000-0000-0000-0000-000000000003' }],
  ])('refuses a bad deployment.%s', (field, over) => {
    expect(targets(td(), dep(over))).toContain(`deployment.${field}`);
  });

  it('requires the deployment section, and reports every problem at once', () => {
    const r = validateDynamicsConfig(td(), undefined);
    expect(Array.isArray(r) ? r.map((p) => p.target) : r).toEqual(['deployment']);
    expect(problems(td({ durationHours: 1.5, maxConcurrent: 0 }), dep({ tenantName: 'x' }))).toHaveLength(3);
  });

  it('reads the Dataverse version from the Web API URL', () => {
    expect(dataverseVersionOf('https://x.crm.dynamics.com/api/data/v9.1/')).toBe('9.1');
    expect(dataverseVersionOf('https://x/data/')).toBe('9.2');
  });
});

/** Issue 8, hole 5: instance URLs are called with the publisher's token (outbound URL rule, src/security/outbound-url.ts). */
describe('validateDynamicsConfig: outbound URL rule', () => {
  it.each(['https://169.254.169.254', 'https://127.0.0.1:8643', 'https://10.0.0.1', 'https://2852039166', 'https://0x7f.1', 'https://[::1]', 'https://localhost', 'https://contoso.example.com'])(
    'refuses instanceUrl %s naming testDrive.instanceUrl',
    (url) => {
      const p = problems(td({ instanceUrl: url, instanceWebApiUrl: 'https://contoso.crm.dynamics.com/api/data/v9.2' }));
      expect(p).toEqual([expect.objectContaining({ target: 'testDrive.instanceUrl', message: expect.stringMatching(/^instanceUrl must .*(outbound URL rule|localhost)/) })]);
    },
  );

  it('accepts sovereign-cloud hosts and, in the emulated runtime, the emulator origin only', () => {
    expect(problems(td({ instanceUrl: 'https://contoso.crm.microsoftdynamics.us', instanceWebApiUrl: 'https://contoso.crm.microsoftdynamics.us/api/data/v9.2' }))).toEqual([]);
    const emu = { outboundPolicy: outboundPolicyFor({ emulated: true, authorityHost: 'https://localhost:45123' }) };
    const ok = validateDynamicsConfig(td({ instanceUrl: 'https://localhost:45123/dynamics/e1', instanceWebApiUrl: 'https://localhost:45123/dynamics/e1/api/data/v9.2' }), dep(), emu);
    expect(Array.isArray(ok)).toBe(false);
    const bad = validateDynamicsConfig(td({ instanceUrl: 'https://localhost:45124/dynamics/e1', instanceWebApiUrl: 'https://127.0.0.1:8643/api/data/v9.2' }), dep(), emu);
    expect(Array.isArray(bad) ? bad.map((p) => p.target) : bad).toEqual(['testDrive.instanceUrl', 'testDrive.instanceWebApiUrl']);
  });

  it('lists the instance and API URLs as outbound URLs', () => {
    const r = validateDynamicsConfig(td(), dep());
    if (Array.isArray(r)) throw new Error('invalid');
    expect(dynamicsOutboundUrls(r.testDrive).map((o) => [o.target, o.url])).toEqual([
      ['testDrive.instanceUrl', 'https://contoso.crm.dynamics.com'],
      ['testDrive.instanceWebApiUrl', 'https://contoso.crm.dynamics.com/api/data/v9.2/'],
    ]);
  });
});
