import { randomInt } from 'node:crypto';

const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
/** Symbols Entra ID accepts that need no quoting in URLs, HTML or shells' double quotes. */
const SYMBOLS = '!#%*+-=?@^_~';
const CLASSES = [LOWER, UPPER, DIGITS, SYMBOLS];

/** Length of generated test drive passwords (Entra ID allows 8-256). */
export const PASSWORD_LENGTH = 16;

/**
 * A random password for a test drive user that meets Entra ID's complexity rule (learn.microsoft.com,
 * "Password policies and account restrictions": 8-256 characters, at least 3 of lower case, upper case,
 * digits, symbols). It always holds all four classes; look-alike characters (l, I, O, 0, 1) are left out
 * because the customer may type it. Uses crypto.randomInt (uniform, CSPRNG).
 * @param length 8-256 (default 16). @throws RangeError outside that range.
 */
export function generatePassword(length = PASSWORD_LENGTH): string {
  if (!Number.isInteger(length) || length < 8 || length > 256) throw new RangeError('password length must be 8-256');
  const all = CLASSES.join('');
  const chars = CLASSES.map((c) => c[randomInt(c.length)]);
  while (chars.length < length) chars.push(all[randomInt(all.length)]);
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}

/** True when `p` meets Entra ID's rule: 8-256 characters, at least 3 of the 4 character classes. */
export function meetsEntraComplexity(p: string): boolean {
  if (p.length < 8 || p.length > 256) return false;
  return [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(p)).length >= 3;
}
