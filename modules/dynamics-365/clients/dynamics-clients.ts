import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { TokenCredential } from '@azure/identity';
import { Client } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { AzureRuntime } from '../../../src/azure/azure-runtime';
import { OfferEntity } from '../../../src/offers/offer.entity';
import { OfferCredentials } from '../../../src/offers/offer-credentials';
import { dynamicsConfigOf } from '../dynamics-config';
import { DYNAMICS_SETTINGS, DynamicsSettings } from '../dynamics-settings';
import { toRemoteError } from './errors';
import { GraphDirectory } from './graph-directory';
import { BusinessCentralApi, DataverseApi, FinanceOperationsApi, ProductApi } from './product-api';
import { fetchDispatcherWith, trustCaInNewHttpsAgents } from './tls';
import { guardedLookup, OutboundUrlPolicy, outboundPolicyFor } from '../../../src/security/outbound-url';

/** Public-cloud Microsoft Graph. */
export const GRAPH_PUBLIC_ENDPOINT = 'https://graph.microsoft.com';

/**
 * The one place the Dynamics 365 type builds its remote clients, per offer: the publisher's
 * TokenCredential (OfferCredentials: tenantId, clientId and the Key Vault client secret), a Microsoft
 * Graph client (@microsoft/microsoft-graph-client with TokenCredentialAuthenticationProvider) and the
 * product's API (dynamics-web-api for Dataverse; fetch for F&O and Business Central). TLS trust of the
 * runtime's extra CA (the emulator's) is set up here too. Clients are cached per offer version and
 * secret version.
 *
 * Outbound URL rule (issue 8, src/security/outbound-url.ts): the instance URLs come from the publisher,
 * so the product APIs check them before each call (rules 1-4; Dataverse also resolves and checks the
 * addresses, as dynamics-web-api has no connection hook) and F&O / Business Central connect through a
 * dispatcher whose DNS lookup refuses non-public addresses (DNS rebinding). `outboundPolicy` exempts the
 * emulator in the emulated runtime. Graph is an operator setting (DYNAMICS_GRAPH_ENDPOINT), not checked.
 *
 * Graph endpoint: DYNAMICS_GRAPH_ENDPOINT, else `${authorityHost}/graph` against the emulator, else
 * https://graph.microsoft.com; token scope `https://graph.microsoft.com/.default` (the emulator accepts
 * that audience) or `${endpoint}/.default` for other clouds. Instance token scope: `${instanceUrl}/.default`.
 */
@Injectable()
export class DynamicsClients implements OnModuleInit, OnApplicationShutdown {
  private dispatcher?: Promise<unknown>;
  private productDispatcher?: Promise<unknown>;
  private untrust?: () => void;
  private readonly cache = new Map<string, { graph: GraphDirectory; product: ProductApi }>();
  readonly graphEndpoint: string;
  readonly graphScope: string;
  /** Which origins the outbound URL rule exempts (the emulator's when emulated, else none). */
  readonly outboundPolicy: OutboundUrlPolicy;

  constructor(
    private readonly runtime: AzureRuntime,
    private readonly credentials: OfferCredentials,
    @Inject(DYNAMICS_SETTINGS) settings: DynamicsSettings,
  ) {
    const ep = runtime.endpoints;
    this.outboundPolicy = outboundPolicyFor(ep);
    this.graphEndpoint = settings.graphEndpoint ?? (ep.emulated ? `${ep.authorityHost.replace(/\/+$/, '')}/graph` : GRAPH_PUBLIC_ENDPOINT);
    this.graphScope = ep.emulated || this.graphEndpoint === GRAPH_PUBLIC_ENDPOINT ? `${GRAPH_PUBLIC_ENDPOINT}/.default` : `${this.graphEndpoint}/.default`;
  }

  onModuleInit(): void {
    // dynamics-web-api creates its https.Agent on its first request: trust must be in place before.
    if (this.runtime.endpoints.extraCaPem) this.untrust = trustCaInNewHttpsAgents(this.runtime.endpoints.extraCaPem);
  }

  /** After in-flight session runs finished (DynamicsTestDriveType.beforeApplicationShutdown). */
  onApplicationShutdown(): void {
    this.untrust?.();
    this.untrust = undefined;
  }

  /** undici dispatcher trusting the extra CA for fetch (undefined: system trust). */
  private fetchDispatcher(): Promise<unknown> {
    const pem = this.runtime.endpoints.extraCaPem;
    if (!pem) return Promise.resolve(undefined);
    this.dispatcher ??= fetchDispatcherWith({ caPem: pem });
    return this.dispatcher;
  }

  /** undici dispatcher of the product APIs (F&O, Business Central): the extra CA, and a DNS lookup refusing non-public addresses. */
  private productFetchDispatcher(): Promise<unknown> {
    this.productDispatcher ??= fetchDispatcherWith({ caPem: this.runtime.endpoints.extraCaPem, lookup: guardedLookup(this.outboundPolicy) });
    return this.productDispatcher;
  }

  /** The publisher's credential. @throws ApiError 409 ClientSecretMissing; SecretNotFoundError. */
  credential(offer: OfferEntity): Promise<TokenCredential> {
    return this.credentials.credentialFor(offer);
  }

  /** Requests a token for `scope` (preflight). @throws RemoteError (kind 'credential' for AADSTS refusals). */
  async token(offer: OfferEntity, scope: string): Promise<void> {
    try {
      const cred = await this.credential(offer);
      const t = await cred.getToken(scope);
      if (!t) throw new Error(`no token for ${scope}`);
    } catch (err) {
      throw toRemoteError(err, 'token');
    }
  }

  /** Token scope of the offer's Dynamics 365 instance. */
  instanceScope(offer: OfferEntity): string {
    return `${dynamicsConfigOf(offer.testDrive).instanceUrl}/.default`;
  }

  private async entry(offer: OfferEntity): Promise<{ graph: GraphDirectory; product: ProductApi }> {
    const key = offerClientKey(offer);
    const hit = this.cache.get(key);
    if (hit) return hit;
    const cred = await this.credential(offer);
    const dispatcher = await this.fetchDispatcher();
    const productDispatcher = await this.productFetchDispatcher();
    const cfg = dynamicsConfigOf(offer.testDrive);
    const client = Client.initWithMiddleware({
      authProvider: new TokenCredentialAuthenticationProvider(cred, { scopes: [this.graphScope] }),
      baseUrl: `${this.graphEndpoint}/`,
      customHosts: new Set([new URL(this.graphEndpoint).hostname]),
      ...(dispatcher ? { fetchOptions: { dispatcher } as never } : {}),
    });
    const product: ProductApi =
      cfg.product === 'customer-engagement'
        ? new DataverseApi(cfg, cred, this.outboundPolicy)
        : cfg.product === 'operations'
          ? new FinanceOperationsApi(cfg, cred, productDispatcher, this.outboundPolicy)
          : new BusinessCentralApi(cfg, cred, productDispatcher, this.outboundPolicy);
    const e = { graph: new GraphDirectory(client), product };
    for (const k of this.cache.keys()) if (k.startsWith(`${offer.id}|`)) this.cache.delete(k);
    this.cache.set(key, e);
    return e;
  }

  /** Graph directory of the offer's tenant. */
  async graph(offer: OfferEntity): Promise<GraphDirectory> {
    return (await this.entry(offer)).graph;
  }

  /** The offer's product API (CE / F&O / BC). */
  async product(offer: OfferEntity): Promise<ProductApi> {
    return (await this.entry(offer)).product;
  }
}

/** Cache key of an offer's clients: its id, settings and secret version (a PUT that changes any of them gets new clients). */
export function offerClientKey(offer: OfferEntity): string {
  return `${offer.id}|${offer.clientSecretVersion}|${JSON.stringify(offer.testDrive)}|${JSON.stringify(offer.deployment)}`;
}
