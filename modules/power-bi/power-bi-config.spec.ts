import { ErrorDetail } from '../../src/common/api-error';
import { ValidatedTestDriveConfig } from '../../src/test-drives/test-drive-type';
import { POWER_BI_DEFAULT_ACCESS_INFORMATION, POWER_BI_HOSTS, validatePowerBiConfig } from './power-bi-config';

const ok = (t: Record<string, unknown>, d?: Record<string, unknown>) => validatePowerBiConfig({ type: 'power-bi', ...t }, d) as ValidatedTestDriveConfig;
const bad = (t: Record<string, unknown>, d?: Record<string, unknown>) => validatePowerBiConfig({ type: 'power-bi', ...t }, d) as ErrorDetail[];

describe('validatePowerBiConfig', () => {
  it.each(POWER_BI_HOSTS.map((h) => h.host))('accepts https links on %s', (host) => {
    const r = ok({ embedUrl: `https://${host}/reportEmbed?reportId=1&autoAuth=true` });
    expect(r.testDrive).toEqual({ type: 'power-bi', embedUrl: `https://${host}/reportEmbed?reportId=1&autoAuth=true`, durationHours: 1, accessInformation: POWER_BI_DEFAULT_ACCESS_INFORMATION });
    expect(r.needsClientSecret).toBe(false);
    expect(r.deployment).toEqual({});
  });

  it('accepts upper-case hosts, port 443, an empty deployment, duration and texts', () => {
    const r = ok({ embedUrl: 'https://APP.PowerBI.com:443/view?r=x', durationHours: 4, accessInformation: 'a {{embedUrl}}', description: 'd' }, {});
    expect(r.testDrive).toMatchObject({ durationHours: 4, accessInformation: 'a {{embedUrl}}', description: 'd' });
  });

  it.each([
    ['https://example.com/x', "'example.com' is not a Power BI host"],
    ['https://app.powerbi.com.evil.io/x', 'is not a Power BI host'],
    ['https://evilapp.powerbi.com/x', 'is not a Power BI host'],
    ['http://app.powerbi.com/x', 'must use https'],
    ['https://user:pw@app.powerbi.com/x', 'user name or password'],
    ['https://app.powerbi.com:8443/x', 'port'],
    ['app.powerbi.com/x', 'absolute https URL'],
    ['', 'must not be empty'],
  ])('refuses %p', (url, why) => {
    const p = bad({ embedUrl: url });
    expect(p).toEqual([expect.objectContaining({ target: 'testDrive.embedUrl', message: expect.stringContaining(why) })]);
  });

  it('lists the accepted hosts in the message', () => {
    const [p] = bad({ embedUrl: 'https://example.com' });
    for (const h of POWER_BI_HOSTS) expect(p.message).toContain(h.host);
  });

  it('refuses a missing or too long URL, bad durations, unknown fields, deployment details', () => {
    expect(bad({}).map((p) => p.target)).toEqual(['testDrive.embedUrl']);
    expect(bad({ embedUrl: `https://app.powerbi.com/${'x'.repeat(2048)}` }).map((p) => p.target)).toEqual(['testDrive.embedUrl']);
    for (const d of [0, 1.5, 100, '1']) expect(bad({ embedUrl: 'https://app.powerbi.com/x', durationHours: d }).map((p) => p.target)).toEqual(['testDrive.durationHours']);
    expect(bad({ embedUrl: 'https://app.powerbi.com/x', url: 'y' })).toEqual([expect.objectContaining({ code: 'UnknownField', target: 'testDrive.url' })]);
    expect(bad({ embedUrl: 'https://app.powerbi.com/x' }, { tenantId: 'x' })).toEqual([expect.objectContaining({ target: 'deployment' })]);
    expect(bad({ embedUrl: 'https://app.powerbi.com/x', accessInformation: 'x'.repeat(10001) }).map((p) => p.target)).toEqual(['testDrive.accessInformation']);
  });
});

/** Issue 8, hole 4: the embed link is placed into the access information HTML. */
describe('embedUrl is a URL as typed, stored normalised', () => {
  it.each([
    ['https://app.powerbi.com/x"><script>alert(1)</script>'],
    ['https://app.powerbi.com/x<b>'],
    ['https://app.powerbi.com/view?r=a b'],
    ['https://app.powerbi.com/x\\y'],
    ['https://app.powerbi.com/x`y'],
    ['https://app.powerbi.com/x\ty'],
  ])('refuses %p naming testDrive.embedUrl and the rule', (url) => {
    expect(bad({ embedUrl: url })).toEqual([expect.objectContaining({ target: 'testDrive.embedUrl', message: expect.stringContaining('not valid in a URL as typed') })]);
  });

  it('stores new URL(x).href (host lower case, default port dropped, query kept)', () => {
    expect(ok({ embedUrl: 'https://APP.PowerBI.com:443/view?r=x&y=%22' }).testDrive.embedUrl).toBe('https://app.powerbi.com/view?r=x&y=%22');
  });

  it('stores the default access information in its sanitised form (rel noopener noreferrer on target _blank)', () => {
    expect(ok({ embedUrl: 'https://app.powerbi.com/x', accessInformation: POWER_BI_DEFAULT_ACCESS_INFORMATION }).testDrive.accessInformation).toBe(POWER_BI_DEFAULT_ACCESS_INFORMATION);
  });

  it('sanitises the publisher\'s access information on save, keeping placeholders in href and iframe src', () => {
    const t = ok({ embedUrl: 'https://app.powerbi.com/x', accessInformation: '<p onclick="x()">Open <a href="{{embedUrl}}" target="_blank">it</a><script>alert(1)</script><iframe src="{{embedUrl}}"></iframe><a href="javascript:alert(1)">bad</a></p>' }).testDrive;
    expect(t.accessInformation).toBe('<p>Open <a href="{{embedUrl}}" target="_blank" rel="noopener noreferrer">it</a><iframe src="{{embedUrl}}"></iframe><a>bad</a></p>');
  });
});
