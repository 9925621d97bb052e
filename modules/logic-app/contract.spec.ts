import { answerToOutputs, deprovisionReason, deprovisionRequest, errorFromAnswer, isTerminalRunStatus, MAX_OUTPUTS, provisionRequest, runOutputsToAnswer } from './contract';
import { retryBackoffMs } from './provisioning/progress';
import { loadLogicAppSettings } from './logic-app-settings';

describe('Logic app contract', () => {
  const session = { id: 's-1', offerId: 'o-1', durationHours: 2, customer: { email: 'a@b.c', firstName: 'Ada', lastName: 'L' } };

  it('builds the provisioning request (company/country null when not given, expiresAt = now + duration)', () => {
    const now = Date.UTC(2026, 0, 1, 10);
    expect(provisionRequest(session, now, 3600_000)).toEqual({
      sessionId: 's-1',
      offerId: 'o-1',
      customer: { firstName: 'Ada', lastName: 'L', email: 'a@b.c', company: null, country: null },
      durationHours: 2,
      expiresAt: '2026-01-01T12:00:00.000Z',
    });
    expect(provisionRequest({ ...session, customer: { ...session.customer, company: 'C', country: 'GB' } }, now, 60_000).customer).toMatchObject({ company: 'C', country: 'GB' });
  });

  it('builds the deprovisioning request with the contract reason', () => {
    expect(deprovisionRequest({ id: 's', offerId: 'o', endReason: 'expired' }, { a: 'b' })).toEqual({ sessionId: 's', offerId: 'o', outputs: { a: 'b' }, reason: 'expired' });
    expect(deprovisionReason('failed')).toBe('failed');
    expect(deprovisionReason('ended')).toBe('ended');
    expect(deprovisionReason('unpublished')).toBe('ended');
    expect(deprovisionReason(null)).toBe('ended');
  });

  it('maps an answer object to string outputs (objects as JSON, null as "")', () => {
    expect(answerToOutputs({ url: 'https://x', port: 443, ok: true, user: { n: 1 }, list: [1], none: null })).toEqual({
      outputs: { url: 'https://x', port: '443', ok: 'true', user: '{"n":1}', list: '[1]', none: '' },
    });
    expect(answerToOutputs(null)).toEqual({ outputs: {} });
    expect(answerToOutputs('')).toEqual({ outputs: {} });
  });

  it('refuses answers that break the contract', () => {
    expect(answerToOutputs([1])).toEqual({ error: expect.stringContaining('an array') });
    expect(answerToOutputs('text')).toEqual({ error: expect.stringContaining('a string') });
    expect(answerToOutputs(Object.fromEntries(Array.from({ length: MAX_OUTPUTS + 1 }, (_, i) => [`k${i}`, 'v'])))).toEqual({ error: expect.stringContaining('at most 50') });
    expect(answerToOutputs({ big: 'x'.repeat(40_000) })).toEqual({ error: expect.stringContaining('at most 32000') });
    expect(answerToOutputs({ ['n'.repeat(101)]: 'v' })).toEqual({ error: expect.stringContaining('Output names') });
  });

  it('reads run outputs and error answers', () => {
    expect(runOutputsToAnswer({ a: { value: 'x' }, b: { value: { c: 1 } } })).toEqual({ a: 'x', b: { c: 1 } });
    expect(runOutputsToAnswer(undefined)).toEqual({});
    expect(errorFromAnswer(400, { error: { code: 'Nope', message: 'bad input' } })).toEqual({ code: 'Nope', message: 'bad input' });
    expect(errorFromAnswer(500, 'boom')).toEqual({ code: 'Http500', message: 'boom' });
    expect(errorFromAnswer(503, undefined)).toEqual({ code: 'Http503', message: 'HTTP 503' });
  });

  it('knows terminal run states and backoff (statuses and Retry-After: src/remote/remote-error.spec.ts)', () => {
    for (const s of ['Succeeded', 'Failed', 'Cancelled', 'TimedOut', 'Aborted']) expect(isTerminalRunStatus(s)).toBe(true);
    for (const s of ['Running', 'Waiting', undefined]) expect(isTerminalRunStatus(s)).toBe(false);
    expect([1, 2, 3, 10].map(retryBackoffMs)).toEqual([2000, 4000, 8000, 60_000]);
  });

  it('validates LOGIC_APP_* settings', () => {
    expect(loadLogicAppSettings({})).toEqual({ timeoutSeconds: 600, maxAttempts: 5, requestTimeoutSeconds: 150 });
    expect(loadLogicAppSettings({ LOGIC_APP_TIMEOUT_SECONDS: '30', LOGIC_APP_MAX_ATTEMPTS: '1' })).toMatchObject({ timeoutSeconds: 30, maxAttempts: 1 });
    expect(() => loadLogicAppSettings({ LOGIC_APP_MAX_ATTEMPTS: '0' })).toThrow(/LOGIC_APP_MAX_ATTEMPTS/);
    expect(() => loadLogicAppSettings({ LOGIC_APP_TIMEOUT_SECONDS: 'ten' })).toThrow(/LOGIC_APP_TIMEOUT_SECONDS/);
  });
});
