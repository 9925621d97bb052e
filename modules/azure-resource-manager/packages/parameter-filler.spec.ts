import * as fc from 'fast-check';
import { fillParameters, generatePassword, generateUserName, PASSWORD_ALPHABET, passwordClassCount, RandomSource } from './parameter-filler';
import { RecognisedParameter } from './package-revision.entity';

/** A RandomSource driven by fast-check (deterministic, shrinkable). */
function seeded(values: number[]): RandomSource {
  let i = 0;
  return { randomInt: (min, max) => min + (values[i++ % values.length] % (max - min)) };
}

describe('generatePassword (Partner Center password rule)', () => {
  it('is exactly 10 characters from the allowed alphabet with at least 3 of the 4 classes (crypto RNG)', () => {
    for (let i = 0; i < 2000; i++) {
      const p = generatePassword();
      expect(p).toHaveLength(10);
      expect([...p].every((c) => PASSWORD_ALPHABET.includes(c))).toBe(true);
      expect(passwordClassCount(p)).toBeGreaterThanOrEqual(3);
    }
  });

  it('holds for any random stream (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 2 ** 31 - 1 }), { minLength: 1, maxLength: 64 }), (values) => {
        const p = generatePassword(seeded(values));
        return p.length === 10 && [...p].every((c) => PASSWORD_ALPHABET.includes(c)) && passwordClassCount(p) >= 3;
      }),
      { numRuns: 2000 },
    );
  });

  it('uses the symbols of the rules table only', () => {
    expect(PASSWORD_ALPHABET.replace(/[A-Za-z0-9]/g, '')).toBe('!#$%&*@^~+');
  });

  it('varies', () => {
    expect(new Set(Array.from({ length: 200 }, () => generatePassword())).size).toBe(200);
  });
});

describe('generateUserName', () => {
  it('is admin + a 5-digit number', () => {
    for (let i = 0; i < 1000; i++) expect(generateUserName()).toMatch(/^admin[1-9]\d{4}$/);
    fc.assert(fc.property(fc.array(fc.nat(), { minLength: 1 }), (v) => /^admin\d{5}$/.test(generateUserName(seeded(v)))));
  });
});

describe('fillParameters', () => {
  const params: RecognisedParameter[] = [
    { name: 'baseUri', armType: 'string', metadataType: 'baseuri', hasDefault: false },
    { name: 'sid', armType: 'string', metadataType: 'sessionid', hasDefault: false },
    { name: 'user', armType: 'string', metadataType: 'username', hasDefault: false },
    { name: 'pw', armType: 'securestring', metadataType: 'password', hasDefault: false },
    { name: 'sku', armType: 'string', metadataType: null, hasDefault: true },
  ];

  it('fills each recognised parameter and leaves defaults alone', () => {
    const sessionId = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
    const v = fillParameters(params, { baseUri: 'https://x/pkg/', sessionId });
    expect(Object.keys(v).sort()).toEqual(['baseUri', 'pw', 'sid', 'user']);
    expect(v.baseUri).toEqual({ value: 'https://x/pkg/' });
    expect(v.sid).toEqual({ value: sessionId });
    expect(String(v.user.value)).toMatch(/^admin\d{5}$/);
    expect(String(v.pw.value)).toHaveLength(10);
  });
});
