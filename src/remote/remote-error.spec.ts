import { OutboundUrlRefusedError } from '../security/outbound-url';
import { callRemote, classifyRemoteError, isRetryable, kindOfStatus, RemoteError, remoteErrorFromAnswer, retryAfterFromHeaders, retryAfterMs, safeMessage } from './remote-error';
import { withRetryAfter } from './retry';

/** Shapes as the clients throw them (recorded against the emulator: @azure/identity 4, core-rest-pipeline 1, Graph client 3). */
const msal = (text: string) => Object.assign(new Error(text), { name: 'AuthenticationRequiredError' });
const restError = (statusCode: number | undefined, code: string, message: string, headers: Record<string, string> = {}) =>
  Object.assign(new Error(message), { name: 'RestError', statusCode, code, details: statusCode ? { error: { code, message } } : undefined, response: statusCode ? { status: statusCode, headers: { get: (n: string) => headers[n.toLowerCase()] } } : undefined });

describe('classifyRemoteError', () => {
  it('token refusals are credential, with the AADSTS code (wrong, expired secret, unknown app or tenant, any OAuth refusal)', () => {
    for (const [text, code] of [
      ['invalid_client: Error(s): 7000215 - Description: AADSTS7000215: Invalid client secret provided.', 'AADSTS7000215'],
      ['invalid_client: Error(s): 7000222 - Description: AADSTS7000222: The provided client secret keys are expired.', 'AADSTS7000222'],
      ['unauthorized_client: AADSTS700016: Application with identifier x was not found', 'AADSTS700016'],
      ['invalid_request: AADSTS90002: Tenant x not found.', 'AADSTS90002'],
      // An OAuth refusal decides before the AADSTS code (the emulator's injected 401 invalid_client carries 90033).
      ['invalid_client: Error(s): 90033 - Description: AADSTS90033: Injected fault (invalid_client)', 'AADSTS90033'],
    ]) {
      expect(classifyRemoteError(msal(text), 'arm')).toMatchObject({ service: 'token', kind: 'credential', code, retryable: false });
    }
    // @azure/identity AuthenticationError (status of the token endpoint, errorResponse) and Graph's wrapping of it.
    expect(classifyRemoteError(Object.assign(new Error('invalid_client Status code: 401'), { name: 'AuthenticationError', statusCode: 401, errorResponse: { error: 'invalid_client' } }), 'graph')).toMatchObject({ kind: 'credential', code: 'invalid_client', status: 401 });
    expect(classifyRemoteError({ statusCode: -1, code: 'AuthenticationRequiredError', message: 'invalid_client: AADSTS7000215: Invalid client secret provided.' }, 'graph')).toMatchObject({ kind: 'credential', code: 'AADSTS7000215' });
  });

  it('a throttled or unavailable token endpoint is throttled / transient, not a refusal', () => {
    expect(classifyRemoteError(msal('temporarily_unavailable: Error(s): 50196 - Description: AADSTS50196: Injected fault (TooManyRequests)'), 'arm')).toMatchObject({ kind: 'throttled', code: 'AADSTS50196' });
    expect(classifyRemoteError(msal('temporarily_unavailable: Error(s): 90033 - Description: AADSTS90033: the service is temporarily unavailable'), 'arm')).toMatchObject({ kind: 'transient' });
    expect(classifyRemoteError(Object.assign(new Error('x'), { name: 'AuthenticationError', statusCode: 503 }), 'arm')).toMatchObject({ kind: 'transient', status: 503 });
    expect(classifyRemoteError(Object.assign(new Error('network_error: getaddrinfo ENOTFOUND login'), { name: 'AuthenticationRequiredError' }), 'arm')).toMatchObject({ kind: 'transient' });
    expect(classifyRemoteError(Object.assign(new Error('no identity'), { name: 'CredentialUnavailableError' }), 'arm')).toMatchObject({ kind: 'transient', code: 'AuthenticationFailed' });
  });

  it('ARM RestError: code and message from details.error, Retry-After from the response', () => {
    expect(classifyRemoteError(restError(404, 'ResourceGroupNotFound', "Resource group 'x' could not be found."), 'arm')).toMatchObject({ service: 'arm', kind: 'notFound', code: 'ResourceGroupNotFound', status: 404 });
    expect(classifyRemoteError(restError(429, 'TooManyRequests', 'throttled', { 'retry-after': '3' }), 'arm')).toMatchObject({ kind: 'throttled', retryAfterMs: 3000, retryable: true });
    expect(classifyRemoteError(restError(503, 'ServiceUnavailable', 'busy', { 'retry-after': '1' }), 'arm')).toMatchObject({ kind: 'throttled', retryAfterMs: 1000 });
    expect(classifyRemoteError(restError(503, 'ServiceUnavailable', 'busy'), 'arm')).toMatchObject({ kind: 'transient', retryAfterMs: undefined });
    expect(classifyRemoteError(restError(500, 'InternalServerError', 'x'), 'arm')).toMatchObject({ kind: 'transient' });
    expect(classifyRemoteError(restError(409, 'DeploymentActive', 'x'), 'arm')).toMatchObject({ kind: 'invalid', code: 'DeploymentActive' });
    expect(classifyRemoteError(restError(403, 'AuthorizationFailed', 'x'), 'logicApp')).toMatchObject({ kind: 'denied', status: 403 });
    expect(classifyRemoteError(restError(401, 'InvalidAuthenticationToken', 'x'), 'arm')).toMatchObject({ kind: 'denied' });
    expect(classifyRemoteError(restError(undefined, 'ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'), 'arm')).toMatchObject({ kind: 'transient', code: 'ECONNREFUSED' });
    expect(classifyRemoteError(restError(undefined, 'REQUEST_SEND_ERROR', 'socket hang up'), 'arm')).toMatchObject({ kind: 'transient', code: 'REQUEST_SEND_ERROR' });
  });

  it('Graph, Dataverse and HTTP answer objects', () => {
    expect(classifyRemoteError({ statusCode: 404, code: 'Request_ResourceNotFound', message: 'x' }, 'graph')).toMatchObject({ kind: 'notFound' });
    expect(classifyRemoteError({ statusCode: 400, code: 'Request_ResourceNotFound', message: 'x' }, 'graph')).toMatchObject({ kind: 'notFound' });
    expect(classifyRemoteError({ statusCode: 429, code: 'TooManyRequests', message: 'x', headers: new Headers({ 'Retry-After': '2' }) }, 'graph')).toMatchObject({ kind: 'throttled', retryAfterMs: 2000 });
    expect(classifyRemoteError({ statusCode: 400, code: 'Request_BadRequest', message: 'x' }, 'graph')).toMatchObject({ kind: 'invalid', code: 'Request_BadRequest' });
    expect(classifyRemoteError({ statusCode: -1, code: 'TypeError', message: 'fetch failed' }, 'graph')).toMatchObject({ kind: 'transient' });
    expect(classifyRemoteError({ status: 429, code: '0x80072322', message: 'x', headers: { 'Retry-After': '2' } }, 'dataverse')).toMatchObject({ kind: 'throttled', retryAfterMs: 2000 });
    expect(classifyRemoteError({ status: 404, code: '0x80040217', message: 'x' }, 'dataverse')).toMatchObject({ kind: 'notFound' });
    expect(classifyRemoteError({ status: 403, code: '0x80072560', message: 'x' }, 'dataverse')).toMatchObject({ kind: 'denied' });
    expect(remoteErrorFromAnswer('fno', { status: 408, headers: {} })).toMatchObject({ kind: 'transient', code: 'Http408', message: 'HTTP 408' });
    expect(remoteErrorFromAnswer('bc', { status: 400, code: 'Internal_EntityWithSameKeyExists', message: 'exists', headers: {} })).toMatchObject({ kind: 'invalid', code: 'Internal_EntityWithSameKeyExists', status: 400 });
  });

  it('undici / fetch / Node network errors are transient with their code; an oversized answer is invalid', () => {
    const cause = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    expect(classifyRemoteError(new TypeError('fetch failed', { cause }), 'bc')).toMatchObject({ kind: 'transient', code: 'UND_ERR_SOCKET' });
    expect(classifyRemoteError(Object.assign(new Error('Headers Timeout Error'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), 'logicApp')).toMatchObject({ kind: 'transient', code: 'UND_ERR_HEADERS_TIMEOUT' });
    expect(classifyRemoteError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }), 'logicApp')).toMatchObject({ kind: 'transient', code: 'ECONNRESET' });
    expect(classifyRemoteError(Object.assign(new Error('aborted'), { name: 'TimeoutError' }), 'authority')).toMatchObject({ kind: 'transient', code: 'TimeoutError' });
    expect(classifyRemoteError(Object.assign(new Error('too big'), { code: 'UND_ERR_RES_EXCEEDED_MAX_SIZE' }), 'graph')).toMatchObject({ kind: 'invalid', code: 'AnswerTooLarge' });
    expect(classifyRemoteError('a string', 'graph')).toMatchObject({ kind: 'transient', message: 'a string' });
  });

  it('a refusal of the outbound URL rule (itself or wrapped by fetch) is invalid OutboundUrlRefused', () => {
    const refusal = new OutboundUrlRefusedError('Connection refused by the outbound URL rule: loopback');
    expect(classifyRemoteError(new TypeError('fetch failed', { cause: refusal }), 'fno')).toMatchObject({ kind: 'invalid', code: 'OutboundUrlRefused', retryable: false });
    expect(classifyRemoteError(refusal, 'logicApp').message).toContain('loopback');
  });

  it('returns a RemoteError as is, redacts sig= and bounds messages', () => {
    const e = new RemoteError('graph', 'invalid', 'NoLicenseAvailable', 'x', 400);
    expect(classifyRemoteError(e, 'dataverse')).toBe(e);
    expect(classifyRemoteError(new Error('GET https://prod-00.logic.azure.com/workflows/x?api-version=1&sig=SECRET failed'), 'logicApp').message).not.toContain('SECRET');
    expect(safeMessage('x'.repeat(5000))).toHaveLength(1000);
  });

  it('the one retry predicate', () => {
    expect(isRetryable(new RemoteError('arm', 'throttled', 'TooManyRequests', 'x', 429, 1000))).toBe(true);
    expect(isRetryable(new RemoteError('arm', 'transient', 'Http500', 'x', 500))).toBe(true);
    for (const k of ['credential', 'denied', 'notFound', 'invalid'] as const) expect(isRetryable(new RemoteError('arm', k, 'x', 'x'))).toBe(false);
    expect(isRetryable(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetryable(msal('invalid_client: AADSTS7000215'))).toBe(false);
  });
});

describe('Retry-After and statuses', () => {
  it('reads seconds, decimals, HTTP dates and the Azure ms headers; caps at 1 h', () => {
    expect(retryAfterMs('7')).toBe(7000);
    expect(retryAfterMs('1.5')).toBe(1500);
    expect(retryAfterMs(new Date(Date.UTC(2026, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2026, 0, 1))).toBe(30_000);
    expect(retryAfterMs(['2', '9'])).toBe(2000);
    expect(retryAfterMs('soon')).toBeUndefined();
    expect(retryAfterMs(undefined)).toBeUndefined();
    expect(retryAfterMs('999999')).toBe(3_600_000);
    expect(retryAfterFromHeaders({ 'x-ms-retry-after-ms': '250', 'retry-after': '9' })).toBe(250);
    expect(retryAfterFromHeaders({ 'Retry-After': '4' })).toBe(4000);
    expect(retryAfterFromHeaders(new Headers({ 'retry-after': '1' }))).toBe(1000);
  });

  it('statuses: 429 and 503 + Retry-After throttled, 408 / 5xx transient, 404 notFound, 401/403 denied, other 4xx invalid', () => {
    expect([429, 503, 408, 500, 502, 504, 404, 401, 403, 400, 409, 412].map((s) => kindOfStatus(s, undefined, s === 503 ? 1000 : undefined))).toEqual([
      'throttled', 'throttled', 'transient', 'transient', 'transient', 'transient', 'notFound', 'denied', 'denied', 'invalid', 'invalid', 'invalid',
    ]);
    expect(kindOfStatus(503)).toBe('transient');
  });
});

describe('withRetryAfter', () => {
  it('retries a short Retry-After inline, gives longer waits and other errors back classified', async () => {
    let n = 0;
    await expect(withRetryAfter('bc', async () => (++n < 2 ? Promise.reject({ status: 429, message: 'x', headers: { 'retry-after': '0' } }) : 'ok'))).resolves.toBe('ok');
    expect(n).toBe(2);
    await expect(withRetryAfter('bc', () => Promise.reject({ status: 429, message: 'x', headers: { 'retry-after': '60' } }))).rejects.toMatchObject({ kind: 'throttled', retryAfterMs: 60_000 });
    n = 0;
    await expect(withRetryAfter('bc', () => (n++, Promise.reject({ status: 400, message: 'bad' })))).rejects.toMatchObject({ kind: 'invalid', code: 'Http400' });
    expect(n).toBe(1);
    n = 0;
    await expect(withRetryAfter('bc', () => (n++, Promise.reject({ status: 503, message: 'x', headers: { 'retry-after': '0' } })), 3)).rejects.toMatchObject({ kind: 'throttled' });
    expect(n).toBe(3);
  });
});

describe('callRemote', () => {
  const arm = (err: unknown) => classifyRemoteError(err, 'arm');
  it('returns the value, throws failures classified, and turns notFound into a value when asked', async () => {
    await expect(callRemote(async () => 1, arm)).resolves.toBe(1);
    await expect(callRemote(() => Promise.reject(restError(404, 'ResourceGroupNotFound', 'gone')), arm, { value: null })).resolves.toBeNull();
    await expect(callRemote(() => Promise.reject(restError(404, 'ResourceGroupNotFound', 'gone')), arm)).rejects.toMatchObject({ kind: 'notFound', code: 'ResourceGroupNotFound' });
    await expect(callRemote(() => Promise.reject(restError(409, 'Conflict', 'x')), arm, { value: null })).rejects.toMatchObject({ kind: 'invalid', status: 409 });
  });
});
