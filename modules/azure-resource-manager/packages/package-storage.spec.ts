import * as fc from 'fast-check';
import { containerNameFor, contentTypeFor } from './package-storage';

/** Azure container naming rules: 3-63 chars, lowercase letters, digits, single '-', alphanumeric at both ends. */
const VALID = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;

describe('containerNameFor', () => {
  it('builds pkg-<offer>-<rev>-<short id>', () => {
    expect(containerNameFor('contoso_web', 3, 'abcd1234')).toBe('pkg-contoso-web-3-abcd1234');
    expect(containerNameFor('a__b--c_', 1, 'abcd1234')).toBe('pkg-a-b-c-1-abcd1234');
  });

  it('always follows the container naming rules, for any valid offer id', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9_-]{1,50}$/), fc.integer({ min: 1, max: 999999 }), (id, rev) => VALID.test(containerNameFor(id, rev))),
      { numRuns: 2000 },
    );
  });
});

describe('contentTypeFor', () => {
  it('maps by extension', () => {
    expect(contentTypeFor('main-template.json')).toBe('application/json');
    expect(contentTypeFor('scripts/INSTALL.PS1')).toMatch(/^text\/plain/);
    expect(contentTypeFor('blob')).toBe('application/octet-stream');
  });
});
