import { ApiError } from '../common/api-error';
import { checkOfferPreconditions, offerChangedError, offerEtag, parseEntityTagCondition } from './offer-preconditions';

const errorOf = (fn: () => unknown): ApiError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('no error thrown');
};
const messageOf = (e: ApiError): string => (e.getResponse() as { error: { message: string } }).error.message;

describe('offer preconditions (If-Match / If-None-Match)', () => {
  it('ETag is the quoted version', () => {
    expect(offerEtag({ version: 7 })).toBe('"7"');
  });

  it('parses *, lists, weak tags, empty elements; blank = absent', () => {
    expect(parseEntityTagCondition('If-Match', undefined)).toBeUndefined();
    expect(parseEntityTagCondition('If-Match', '  ')).toBeUndefined();
    expect(parseEntityTagCondition('If-Match', '*')).toEqual({ any: true });
    expect(parseEntityTagCondition('If-Match', '"3", W/"4" ,, "5"')).toEqual({
      any: false,
      tags: [
        { weak: false, opaque: '3' },
        { weak: true, opaque: '4' },
        { weak: false, opaque: '5' },
      ],
    });
    expect(parseEntityTagCondition('If-Match', ['"1"', '"2"'])).toEqual({ any: false, tags: [{ weak: false, opaque: '1' }, { weak: false, opaque: '2' }] });
  });

  it.each(['3', '"3', '"3""4"', 'W/3', ',', '"3" x'])('rejects malformed %j with 400 InvalidHeader naming the header', (v) => {
    const e = errorOf(() => parseEntityTagCondition('If-Match', v));
    expect(e.getStatus()).toBe(400);
    expect(e.code).toBe('InvalidHeader');
    expect(e.target).toBe('If-Match');
    expect(messageOf(e)).toMatch(/^If-Match must be "\*" or .*quoted entity tags/);
  });

  it('If-Match: strong match passes; stale, weak or missing offer is 412', () => {
    const m = (v: string) => ({ ifMatch: parseEntityTagCondition('If-Match', v) });
    expect(() => checkOfferPreconditions('o', { version: 3 }, m('"2", "3"'))).not.toThrow();
    expect(() => checkOfferPreconditions('o', { version: 3 }, m('*'))).not.toThrow();
    for (const [offer, v] of [[{ version: 3 }, '"2"'], [{ version: 3 }, 'W/"3"'], [null, '*'], [null, '"1"']] as const) {
      const e = errorOf(() => checkOfferPreconditions('o', offer, m(v)));
      expect([e.getStatus(), e.code, e.target]).toEqual([412, 'PreconditionFailed', 'If-Match']);
    }
    expect(messageOf(errorOf(() => checkOfferPreconditions('o', { version: 3 }, m('"2"'))))).toContain('current ETag is "3"');
    // The offer did not change: only the W/ prefix is wrong, and the message says so instead of "has changed".
    const weak = messageOf(errorOf(() => checkOfferPreconditions('o', { version: 3 }, m('W/"3"'))));
    expect(weak).not.toContain('has changed');
    expect(weak).toBe('If-Match: W/"3" is a weak entity tag, and If-Match compares strongly (RFC 9110 §13.1.1): send the ETag as given, "3", without W/.');
  });

  it('If-None-Match: * refuses an existing offer; a listed current tag (weak comparison) is 412', () => {
    const n = (v: string) => ({ ifNoneMatch: parseEntityTagCondition('If-None-Match', v) });
    expect(() => checkOfferPreconditions('o', null, n('*'))).not.toThrow();
    expect(() => checkOfferPreconditions('o', { version: 3 }, n('"2"'))).not.toThrow();
    for (const v of ['*', '"3"', 'W/"3"']) {
      const e = errorOf(() => checkOfferPreconditions('o', { version: 3 }, n(v)));
      expect([e.getStatus(), e.code, e.target]).toEqual([412, 'PreconditionFailed', 'If-None-Match']);
    }
  });

  it('a lost race is 412 with If-Match, else 409 OfferChanged; says whether the offer was deleted', () => {
    const withIfMatch = offerChangedError('o', false, { ifMatch: { any: true } });
    expect([withIfMatch.getStatus(), withIfMatch.code, withIfMatch.target]).toEqual([412, 'PreconditionFailed', 'If-Match']);
    const without = offerChangedError('o', true);
    expect([without.getStatus(), without.code]).toEqual([409, 'OfferChanged']);
    expect(messageOf(without)).toBe("Offer 'o' was deleted while this request ran; read it again and retry.");
  });
});
