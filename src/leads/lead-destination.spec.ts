import { checkTableEndpoint, tableEndpointOf } from './lead-destination';

const KEY = 'AccountKey=a2V5;';
const real = { emulated: false, authorityHost: 'https://login.microsoftonline.com', storageConnectionString: '' };
const emulated = { emulated: true, authorityHost: 'https://localhost:8443', storageConnectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;${KEY}BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;` };

describe('tableEndpointOf', () => {
  it.each([
    [`DefaultEndpointsProtocol=https;AccountName=contoso;${KEY}EndpointSuffix=core.windows.net`, 'https://contoso.table.core.windows.net'],
    [`AccountName=contoso;${KEY}`, 'https://contoso.table.core.windows.net'],
    [`accountname=contoso;${KEY}endpointsuffix=core.usgovcloudapi.net`, 'https://contoso.table.core.usgovcloudapi.net'],
    [`TableEndpoint=https://contoso.table.cosmos.azure.com:443/;SharedAccessSignature=sv=1`, 'https://contoso.table.cosmos.azure.com:443/'],
    [`AccountName=contoso;${KEY}TableEndpoint=https://other.table.core.windows.net/`, 'https://other.table.core.windows.net/'],
    ['UseDevelopmentStorage=true', 'http://127.0.0.1:10002/devstoreaccount1'],
  ])('%s -> %s', (cs, endpoint) => {
    expect(tableEndpointOf(cs)).toBe(endpoint);
  });

  it('is undefined when the string names no account nor endpoint', () => {
    expect(tableEndpointOf('AccountKey=a2V5')).toBeUndefined();
    expect(tableEndpointOf('garbage')).toBeUndefined();
  });
});

describe('checkTableEndpoint (the outbound URL rule for azure-table lead destinations)', () => {
  it.each([
    `AccountName=contoso;${KEY}`,
    `TableEndpoint=https://contoso.table.core.chinacloudapi.cn/;SharedAccessSignature=sv=1`,
    `TableEndpoint=https://contoso.table.cosmos.azure.com:443/;${KEY}`,
  ])('accepts %s', (cs) => {
    expect(checkTableEndpoint(cs, real)).toMatchObject({ azurite: false });
  });

  it.each([
    ['TableEndpoint=http://127.0.0.1:18999/internal;AccountName=x;', 'must use https'],
    ['TableEndpoint=https://127.0.0.1:6379/;AccountName=x;', 'not an IP address'],
    ['TableEndpoint=https://169.254.169.254/;AccountName=x;', 'not an IP address'],
    ['TableEndpoint=https://[::1]/;AccountName=x;', 'not an IP address'],
    ['TableEndpoint=https://localhost/;AccountName=x;', 'localhost'],
    ['TableEndpoint=https://contoso.table.core.windows.net:8443/;AccountName=x;', 'port other than 443'],
    [`AccountName=contoso;${KEY}EndpointSuffix=evil.example`, 'Azure Table storage host'],
    [`DefaultEndpointsProtocol=http;AccountName=contoso;${KEY}`, 'must use https'],
    ['UseDevelopmentStorage=true', 'must use https'],
  ])('refuses %s (%s), without echoing it', (cs, why) => {
    const r = checkTableEndpoint(cs, real);
    expect(r).toMatchObject({ code: 'OutboundUrlRefused', problem: expect.stringContaining(why) });
    expect(JSON.stringify(r)).not.toMatch(/127\.0\.0\.1|169\.254|evil\.example|18999/);
  });

  it('a string without an account or endpoint is InvalidField', () => {
    expect(checkTableEndpoint('AccountKey=a2V5', real)).toMatchObject({ code: 'InvalidField', problem: expect.stringContaining('storage account connection string') });
  });

  it("emulated: the runtime's own Azurite table origin only (http), nothing else local", () => {
    expect(checkTableEndpoint(`DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;${KEY}TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;`, emulated)).toMatchObject({ azurite: true });
    expect(checkTableEndpoint('UseDevelopmentStorage=true', emulated)).toMatchObject({ azurite: true });
    expect(checkTableEndpoint(`TableEndpoint=http://127.0.0.1:10003/devstoreaccount1;${KEY}`, emulated)).toMatchObject({ code: 'OutboundUrlRefused' });
    expect(checkTableEndpoint(`TableEndpoint=http://127.0.0.1:5432/;${KEY}`, emulated)).toMatchObject({ code: 'OutboundUrlRefused' });
    // Without a table service in the runtime's connection string, nothing local is exempt.
    expect(checkTableEndpoint('UseDevelopmentStorage=true', { ...emulated, storageConnectionString: 'BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;' })).toMatchObject({ code: 'OutboundUrlRefused' });
  });
});
