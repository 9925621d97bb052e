import { clientSecretNameFor, OFFER_ID_PATTERN } from './offer.dto';
import { SECRET_NAME_PATTERN } from '../azure/secret-store';

describe('offer id and secret names', () => {
  it('follows the Partner Center offer id rule', () => {
    expect(OFFER_ID_PATTERN.test('contoso-web_1')).toBe(true);
    for (const bad of ['Contoso', 'a b', '', 'x'.repeat(51), 'a.b', 'ä']) expect(OFFER_ID_PATTERN.test(bad)).toBe(false);
  });

  it('makes valid, distinct Key Vault names', () => {
    expect(clientSecretNameFor('contoso-web')).toBe('offer-contoso-web-client-secret');
    expect(clientSecretNameFor('contoso_web')).not.toBe(clientSecretNameFor('contoso-web'));
    for (const id of ['a', 'a_b', '_', 'x'.repeat(50), '_'.repeat(50)]) expect(SECRET_NAME_PATTERN.test(clientSecretNameFor(id))).toBe(true);
  });
});
