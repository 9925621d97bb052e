import * as https from 'node:https';
import { ClientSecretCredential, TokenCredential } from '@azure/identity';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { trustedCas } from '../remote/http';
import { remoteCallPolicy } from '../remote/observe';
import type { AdditionalPolicyConfig } from '@azure/core-client';

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

/**
 * Sockets per Azure host (ARM, Entra ID, Key Vault) shared by every SDK client of the process: bursts
 * (e.g. the resource group tag after each hot claim) queue on warm keep-alive connections instead of
 * opening, and TLS-handshaking, one socket per call (issue 14).
 */
export const AZURE_MAX_SOCKETS_PER_HOST = 16;

/**
 * A pipeline policy that sends every https request of an SDK client through `agent` (unless the request
 * already names one). The SDK's own HTTP client keeps one agent per client instance and opens sockets
 * without bound; this makes one keep-alive agent and TLS context per process, per remote host.
 */
export function sharedAgentPolicy(agent: https.Agent): PipelinePolicy {
  return {
    name: 'testDriveSharedAgent',
    sendRequest(request, next) {
      if (!request.agent && request.url.startsWith('https:')) request.agent = agent;
      return next(request);
    },
  };
}

/** Injectable holder of the resolved endpoints and the service's credential. */
export class AzureRuntime {
  /** Common SDK client options: TLS trust for the emulator's CA (appended to the system CAs). */
  readonly clientOptions: { tlsOptions?: { ca: string[] }; retryOptions?: { maxRetries: number }; additionalPolicies: AdditionalPolicyConfig[] };
  readonly serviceCredential: TokenCredential;
  /** The one keep-alive agent of every Azure SDK client (pooled per host; trusts `ca` like the clients). */
  readonly agent: https.Agent;

  constructor(
    readonly endpoints: AzureEndpoints,
    readonly serviceIdentity: ServiceIdentity,
  ) {
    // Emulated: every endpoint is the emulator, so its CA alone is the trust list (a short list also keeps
    // Node's per-request agent key cheap: ~1.5 ms per ARM call with all ~140 roots, measured in bench/).
    // Real Azure with an extra CA (private cloud): the system roots plus that CA. The same rule as the
    // service's own HTTP client (trustedCas, src/remote/http.ts).
    const ca = trustedCas(endpoints);
    // Every attempt of every SDK call is reported (issue 11: Azure calls by service, operation, outcome).
    this.agent = new https.Agent({ keepAlive: true, maxSockets: AZURE_MAX_SOCKETS_PER_HOST, maxFreeSockets: AZURE_MAX_SOCKETS_PER_HOST, scheduling: 'lifo', ...(ca ? { ca } : {}) });
    const additionalPolicies: AdditionalPolicyConfig[] = [
      { policy: sharedAgentPolicy(this.agent), position: 'perCall' },
      { policy: remoteCallPolicy((url) => this.serviceOf(url)), position: 'perRetry' },
    ];
    this.clientOptions = ca ? { tlsOptions: { ca }, additionalPolicies } : { additionalPolicies };
    this.serviceCredential = this.credential(serviceIdentity.tenantId, serviceIdentity.clientId, serviceIdentity.clientSecret);
  }

  /** The remote an SDK request URL belongs to: `entra`, `arm`, `keyvault`, `storage` or `azure`. */
  serviceOf(url: string): string {
    const e = this.endpoints;
    const starts = (base: string | undefined) => !!base && url.toLowerCase().startsWith(base.replace(/\/+$/, '').toLowerCase() + '/');
    if (starts(e.authorityHost)) {
      // The emulator serves every endpoint from one origin: Entra paths have a tenant then oauth2/discovery.
      if (!e.emulated || /^https:\/\/[^/]+\/[^/]+\/(oauth2|discovery|v2\.0|\.well-known)\b/i.test(url)) return 'entra';
    }
    if (starts(e.keyVaultUrl) && (!e.emulated || /\/(secrets|keys|certificates)\b/i.test(url))) return 'keyvault';
    if (starts(e.resourceManagerEndpoint)) return 'arm';
    return 'azure';
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
