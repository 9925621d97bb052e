import { errorBackoffMs, syncBackoffMs } from './progress';
import { upnFor, usageLocationFor } from './session-driver';
import { classifyRemoteError, retryAfterMs } from '../../../src/remote/remote-error';
import { loadDynamicsSettings } from '../dynamics-settings';

describe('Dynamics 365 provisioning helpers', () => {
  it('backs off sync polls 1 s, 2 s, 4 s ... 60 s and errors 2 s ... 5 min', () => {
    expect([0, 1, 2, 3, 6, 20].map(syncBackoffMs)).toEqual([1000, 2000, 4000, 8000, 60_000, 60_000]);
    expect([1, 2, 3, 20].map(errorBackoffMs)).toEqual([2000, 4000, 8000, 300_000]);
  });

  it('derives UPN (alias <= 20 characters for F&O) and usage location', () => {
    const upn = upnFor('0F8FAD5B-D9CB-469F-A165-70867728950E', 'contoso.onmicrosoft.com');
    expect(upn).toBe('td-0f8fad5bd9cb@contoso.onmicrosoft.com');
    expect(upn.split('@')[0].length).toBeLessThanOrEqual(20);
    expect([usageLocationFor('gb'), usageLocationFor(undefined), usageLocationFor('GBR')]).toEqual(['GB', 'US', 'US']);
  });

  it('classifies remote errors', () => {
    expect(classifyRemoteError({ name: 'AuthenticationError', message: 'AADSTS7000215: Invalid client secret provided.' }, 'graph')).toMatchObject({ kind: 'credential', code: 'AADSTS7000215' });
    expect(classifyRemoteError({ status: 429, code: '0x80072322', message: 'x', headers: { 'retry-after': '2' } }, 'dataverse')).toMatchObject({ kind: 'throttled', retryAfterMs: 2000 });
    expect(classifyRemoteError({ statusCode: 404, code: 'Request_ResourceNotFound', message: 'x' }, 'graph')).toMatchObject({ kind: 'notFound' });
    expect(classifyRemoteError({ status: 403, code: '0x80072560', message: 'x' }, 'dataverse')).toMatchObject({ kind: 'denied' });
    expect(classifyRemoteError({ status: 503, message: 'x' }, 'fno')).toMatchObject({ kind: 'transient', retryable: true });
    expect(classifyRemoteError(new TypeError('fetch failed'), 'bc')).toMatchObject({ kind: 'transient' });
    expect(retryAfterMs('1.5')).toBe(1500);
    expect(retryAfterMs(undefined)).toBeUndefined();
  });

  it('validates DYNAMICS_* settings, naming the variable', () => {
    expect(loadDynamicsSettings({})).toEqual({ syncTimeoutSeconds: 900, healthIntervalSeconds: 300, sweepIntervalSeconds: 300, licenseCacheMs: 3000 });
    expect(() => loadDynamicsSettings({ DYNAMICS_SYNC_TIMEOUT_SECONDS: '0' })).toThrow(/DYNAMICS_SYNC_TIMEOUT_SECONDS/);
    expect(() => loadDynamicsSettings({ DYNAMICS_GRAPH_ENDPOINT: 'http://graph' })).toThrow(/DYNAMICS_GRAPH_ENDPOINT/);
    expect(loadDynamicsSettings({ DYNAMICS_GRAPH_ENDPOINT: 'https://graph.microsoft.us/' }).graphEndpoint).toBe('https://graph.microsoft.us');
  });
});
