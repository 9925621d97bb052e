import { isDependencyFailure } from './api-exception.filter';

describe('isDependencyFailure', () => {
  it('recognises Azure SDK, identity and network failures', () => {
    expect(isDependencyFailure(Object.assign(new Error('x'), { name: 'RestError', statusCode: 503 }))).toBe(true);
    expect(isDependencyFailure(Object.assign(new Error('x'), { name: 'CredentialUnavailableError' }))).toBe(true);
    expect(isDependencyFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
  });
  it('does not excuse our own bugs', () => {
    expect(isDependencyFailure(new TypeError('cannot read x of undefined'))).toBe(false);
    expect(isDependencyFailure(undefined)).toBe(false);
  });
});
