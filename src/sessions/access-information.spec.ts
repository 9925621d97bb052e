import { outputsAsStrings, renderAccessInformation } from './access-information';

describe('access information', () => {
  it('turns ARM outputs into strings, objects as JSON', () => {
    expect(outputsAsStrings({ a: { type: 'string', value: 'x' }, n: { type: 'int', value: 3 }, o: { type: 'object', value: { k: 1 } }, z: { type: 'string', value: null } })).toEqual({
      a: 'x',
      n: '3',
      o: '{"k":1}',
      z: '',
    });
  });

  it('fills {{placeholders}}, tolerating spaces and case, leaving unknown ones', () => {
    const text = '<p>Go to {{siteUrl}} as {{ User Name }} / {{password}} {{missing}}</p>';
    expect(renderAccessInformation(text, { siteUrl: 'https://x', 'user name': 'admin12345', password: 'p@ss' })).toBe(
      '<p>Go to https://x as admin12345 / p@ss {{missing}}</p>',
    );
  });

  it('returns null without a template', () => {
    expect(renderAccessInformation(undefined, {})).toBeNull();
  });
});
