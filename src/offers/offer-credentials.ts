import { Injectable } from '@nestjs/common';
import { TokenCredential } from '@azure/identity';
import { ApiError } from '../common/api-error';
import { AzureRuntime } from '../azure/azure-runtime';
import { SecretStore } from '../azure/secret-store';
import { OfferEntity } from './offer.entity';

/**
 * Credentials of publishers' app registrations (deployment subscription details), built from the
 * client secret in Key Vault. One TokenCredential per secret version is cached in memory, so token
 * caching works across calls and a new secret (new version) takes effect at once.
 */
@Injectable()
export class OfferCredentials {
  private readonly cache = new Map<string, Promise<TokenCredential>>();

  constructor(
    private readonly runtime: AzureRuntime,
    private readonly secrets: SecretStore,
  ) {}

  /**
   * Client-credentials TokenCredential for `offer.deployment` (tenantId, clientId) with the secret
   * version the offer references. Token errors (e.g. AADSTS7000215 for a wrong or expired secret)
   * surface when a token is first requested.
   * @throws ApiError 409 `ClientSecretMissing` when the offer has no client secret.
   * @throws SecretNotFoundError when the referenced Key Vault version is gone.
   */
  credentialFor(offer: OfferEntity): Promise<TokenCredential> {
    const { clientSecretName: name, clientSecretVersion: version } = offer;
    if (!name || !version) {
      return Promise.reject(new ApiError(409, 'ClientSecretMissing', `Offer '${offer.id}' has no client secret.`, 'deployment.clientSecret'));
    }
    const key = `${offer.deployment.tenantId}|${offer.deployment.clientId}|${name}|${version}`;
    let cred = this.cache.get(key);
    if (!cred) {
      cred = this.secrets.get(name, version).then((secret) => this.runtime.credential(offer.deployment.tenantId, offer.deployment.clientId, secret));
      cred.catch(() => this.cache.delete(key));
      this.cache.set(key, cred);
    }
    return cred;
  }

  /** Drops cached credentials of one secret name (e.g. after the offer is deleted). */
  forget(secretName: string): void {
    for (const k of this.cache.keys()) if (k.includes(`|${secretName}|`)) this.cache.delete(k);
  }
}
