import fc from 'fast-check';
import { generatePassword, meetsEntraComplexity, PASSWORD_LENGTH } from './password';

describe('generatePassword', () => {
  it('makes 16 characters meeting Entra ID complexity, all four classes, every time', () => {
    for (let i = 0; i < 2000; i++) {
      const p = generatePassword();
      expect(p).toHaveLength(PASSWORD_LENGTH);
      expect(meetsEntraComplexity(p)).toBe(true);
      expect([/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].every((r) => r.test(p))).toBe(true);
      expect(p).not.toMatch(/[lIO01\s'"<>&\\`]/);
    }
  });

  it('holds for every allowed length, and refuses others', () => {
    fc.assert(fc.property(fc.integer({ min: 8, max: 256 }), (n) => {
      const p = generatePassword(n);
      return p.length === n && meetsEntraComplexity(p);
    }));
    expect(() => generatePassword(7)).toThrow(RangeError);
    expect(() => generatePassword(257)).toThrow(RangeError);
  });

  it('does not repeat itself', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => generatePassword()));
    expect(seen.size).toBe(1000);
  });

  it('meetsEntraComplexity follows the 3-of-4 rule and 8-256 characters', () => {
    expect(meetsEntraComplexity('abcDEF12')).toBe(true);
    expect(meetsEntraComplexity('abcdef12')).toBe(false);
    expect(meetsEntraComplexity('aB1!')).toBe(false);
    expect(meetsEntraComplexity(`aB1!${'x'.repeat(253)}`)).toBe(false);
  });
});
