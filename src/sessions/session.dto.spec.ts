import { ApiError } from '../common/api-error';
import { parseOrThrow } from '../common/validation';
import { StartSessionSchema } from './session.dto';

const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' };

/** The 400 a start with `country` gets: its details. */
function refusal(country: unknown): Array<{ target?: string; message: string }> {
  try {
    parseOrThrow(StartSessionSchema, { customer: { ...customer, country } });
  } catch (err) {
    expect(err).toBeInstanceOf(ApiError);
    return (err as ApiError).details ?? [];
  }
  throw new Error('accepted');
}

describe('StartSessionSchema: customer.country', () => {
  it('takes an assigned ISO 3166-1 alpha-2 code in either case, stored upper case', () => {
    expect(parseOrThrow(StartSessionSchema, { customer: { ...customer, country: 'gb' } }).customer.country).toBe('GB');
    expect(parseOrThrow(StartSessionSchema, { customer: { ...customer, country: 'DE' } }).customer.country).toBe('DE');
    expect(parseOrThrow(StartSessionSchema, { customer }).customer.country).toBeUndefined();
  });

  it('refuses two letters that are no country (XX, EU, ZZ), naming the field and the rule', () => {
    for (const c of ['XX', 'EU', 'zz']) {
      expect(refusal(c)).toEqual([expect.objectContaining({ target: 'customer.country', message: 'must be an assigned ISO 3166-1 alpha-2 country code, e.g. "US"' })]);
    }
  });

  it('refuses what is not two letters with one problem, not two (alpha-3, numeric)', () => {
    for (const c of ['GBR', '826', 'G']) {
      expect(refusal(c)).toEqual([expect.objectContaining({ target: 'customer.country', message: 'must be a two-letter ISO 3166 country code, e.g. "US"' })]);
    }
  });
});
