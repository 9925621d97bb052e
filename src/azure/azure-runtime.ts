import { ClientSecretCredential, TokenCredential } from '@azure/identity';
import { trustedCas } from '../remote/http';

/**
 * Where the Azure endpoints are and how to trust them, resolved at start: either real Azure (public
 * cloud defaults, overridable for sovereign clouds) or the bundled emulator (embedded default).
 * Every Azure SDK client of the service is built from this, so the code under test in integration
 * tests is exactly the code that talks to Azure.
 */
export interface AzureEndpoints {
  /** Entra ID authority host, e.g. https://login.microsoftonline.com or https://localhost:8443. */
  authorityHost: string;
  /** ARM endpoint, e.g. https://management.azure.com. */
  resourceManagerEndpoint: string;
  /** Token audience of ARM; scope = audience + "/.default". */
  resourceManagerAudience: string;
  /** The service's own Key Vault, e.g. https://myvault.vault.azure.net. */
  keyVaultUrl: string;
  /** Blob storage of package revisions (Azurite locally). */
  storageConnectionString: string;
  /** Extra CA certificates (PEM) to trust besides the system ones (the emulator's CA). */
  extraCaPem?: string;
  /** True when the endpoints are the local emulator (disables instance discovery etc.). */
  emulated: boolean;
}

/** The service's own identity (for Key Vault). */
export interface ServiceIdentity {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/** Injectable holder of the resolved endpoints and the service's credential. */
export class AzureRuntime {
  /** Common SDK client options: TLS trust for the emulator's CA (appended to the system CAs). */
  readonly clientOptions: { tlsOptions?: { ca: string[] }; retryOptions?: { maxRetries: number } };
  readonly serviceCredential: TokenCredential;

  constructor(
    readonly endpoints: AzureEndpoints,
    readonly serviceIdentity: ServiceIdentity,
  ) {
    // Emulated: every endpoint is the emulator, so its CA alone is the trust list (a short list also keeps
    // Node's per-request agent key cheap: ~1.5 ms per ARM call with all ~140 roots, measured in bench/).
    // Real Azure with an extra CA (private cloud): the system roots plus that CA. The same rule as the
    // service's own HTTP client (trustedCas, src/remote/http.ts).
    const ca = trustedCas(endpoints);
    this.clientOptions = ca ? { tlsOptions: { ca } } : {};
    this.serviceCredential = this.credential(serviceIdentity.tenantId, serviceIdentity.clientId, serviceIdentity.clientSecret);
  }

  /** ARM token scope, e.g. "https://management.azure.com/.default". */
  get armScope(): string {
    return `${this.endpoints.resourceManagerAudience.replace(/\/$/, '')}/.default`;
  }

  /**
   * A client-credentials TokenCredential for an app registration in `tenantId`.
   * The secret stays in memory only. Errors surface on first token request (AuthenticationError
   * carrying AADSTS codes, e.g. AADSTS7000215 for a wrong secret).
   */
  credential(tenantId: string, clientId: string, clientSecret: string): TokenCredential {
    return new ClientSecretCredential(tenantId, clientId, clientSecret, {
      authorityHost: this.endpoints.authorityHost,
      disableInstanceDiscovery: this.endpoints.emulated,
      ...this.clientOptions,
    });
  }
}
