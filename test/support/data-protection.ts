import { SecretClient } from '@azure/keyvault-secrets';
import { DATA_PROTECTION_KEY_SECRET } from '../../src/azure/data-protector';
import type { LocalAzure } from './harness';

/**
 * Deletes and purges the data protection key (Key Vault secret `data-protection-key`) through the real
 * SecretClient: what was encrypted with it can no longer be decrypted by a service started afterwards
 * (a running one still holds the key in memory). The next service start creates a new key version.
 */
export async function purgeDataProtectionKey(azure: LocalAzure): Promise<void> {
  const kv = new SecretClient(azure.runtime.endpoints.keyVaultUrl, azure.runtime.serviceCredential, { ...azure.runtime.clientOptions, disableChallengeResourceVerification: true });
  await (await kv.beginDeleteSecret(DATA_PROTECTION_KEY_SECRET)).pollUntilDone();
  await kv.purgeDeletedSecret(DATA_PROTECTION_KEY_SECRET);
}
