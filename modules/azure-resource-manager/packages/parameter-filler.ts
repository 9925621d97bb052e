import * as nodeCrypto from 'node:crypto';
import { RecognisedParameter } from './package-revision.entity';

/** The randomness fillParameters uses (node:crypto by default; tests may pass a seeded one). */
export interface RandomSource {
  /** Uniform integer in [min, max). */
  randomInt(min: number, max: number): number;
}

/** What a deployment of one instance knows when its parameters are filled. */
export interface FillContext {
  /** Base URI of the package revision (ends with '/'). */
  baseUri: string;
  /** The instance's session GUID. */
  sessionId: string;
}

/** Partner Center: generated passwords are exactly 10 characters. */
export const PASSWORD_LENGTH = 10;
export const PASSWORD_CLASSES = {
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  lower: 'abcdefghijklmnopqrstuvwxyz',
  digit: '0123456789',
  symbol: '!#$%&*@^~+',
} as const;
/** Every character a generated password may contain. */
export const PASSWORD_ALPHABET = Object.values(PASSWORD_CLASSES).join('');

/**
 * ARM deployment parameter values for a package's recognised parameters (Partner Center table):
 * `baseuri` -> the revision's base URI; `sessionid` -> the session GUID; `username` -> `admin` + a
 * random 5-digit number (e.g. admin68876); `password` -> see {@link generatePassword}. Parameters
 * without a metadata type (they have a default) are not sent, so the template's default applies.
 *
 * @returns `{ name: { value } }`, the shape of `properties.parameters` of an ARM deployment.
 *   The result holds a password: never log or store it in plain text.
 */
export function fillParameters(params: RecognisedParameter[], ctx: FillContext, random: RandomSource = nodeCrypto): Record<string, { value: unknown }> {
  const out: Record<string, { value: unknown }> = {};
  for (const p of params) {
    switch (p.metadataType) {
      case 'baseuri':
        out[p.name] = { value: ctx.baseUri };
        break;
      case 'sessionid':
        out[p.name] = { value: ctx.sessionId };
        break;
      case 'username':
        out[p.name] = { value: generateUserName(random) };
        break;
      case 'password':
        out[p.name] = { value: generatePassword(random, p.passwordLength ?? PASSWORD_LENGTH) };
        break;
      default:
        break; // no metadata type: the template's defaultValue applies
    }
  }
  return out;
}

/** Partner Center: `admin` followed by a random 5-digit number (10000-99999), e.g. `admin68876`. */
export function generateUserName(random: RandomSource = nodeCrypto): string {
  return `admin${random.randomInt(10000, 100000)}`;
}

/**
 * Partner Center: 10 characters (or `length`, when the parameter's minLength asks for more; issue 13)
 * from A-Z a-z 0-9 and `! # $ % & * @ ^ ~ +`, with characters
 * of at least 3 of those 4 classes. This generator always includes all four classes (one each, at
 * random positions), the rest drawn uniformly from the whole alphabet, using a cryptographic RNG.
 */
export function generatePassword(random: RandomSource = nodeCrypto, length = PASSWORD_LENGTH): string {
  const pick = (chars: string) => chars[random.randomInt(0, chars.length)];
  const chars = [pick(PASSWORD_CLASSES.upper), pick(PASSWORD_CLASSES.lower), pick(PASSWORD_CLASSES.digit), pick(PASSWORD_CLASSES.symbol)];
  while (chars.length < Math.max(PASSWORD_LENGTH, length)) chars.push(pick(PASSWORD_ALPHABET));
  // Fisher-Yates shuffle so the guaranteed classes are not at fixed positions.
  for (let i = chars.length - 1; i > 0; i--) {
    const j = random.randomInt(0, i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}

/** Number of the four password classes present in `s` (for checks and tests). */
export function passwordClassCount(s: string): number {
  return Object.values(PASSWORD_CLASSES).filter((cls) => [...s].some((c) => cls.includes(c))).length;
}
