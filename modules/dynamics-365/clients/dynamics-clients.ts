import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { TokenCredential } from '@azure/identity';
import { Client, Context, Middleware, MiddlewareFactory } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { AzureRuntime } from '../../../src/azure/azure-runtime';
import { OfferEntity } from '../../../src/offers/offer.entity';
import { OfferCredentials } from '../../../src/offers/offer-credentials';
import { dynamicsConfigOf } from '../dynamics-config';
import { DYNAMICS_SETTINGS, DynamicsSettings } from '../dynamics-settings';
import { RemoteHttp, trustedCas } from '../../../src/remote/http';
import { classifyRemoteError } from '../../../src/remote/remote-error';
import { GraphDirectory } from './graph-directory';
import { ProductApi, productApiFor } from './product-api';
import { guardedLookup, OutboundUrlPolicy, outboundPolicyFor } from '../../../src/security/outbound-url';

/** Public-cloud Microsoft Graph. */
export const GRAPH_PUBLIC_ENDPOINT = 'https://graph.microsoft.com';

/**
 * The one place the Dynamics 365 type builds its remote clients, per offer: the publisher's
 * TokenCredential (OfferCredentials: tenantId, clientId and the Key Vault client secret), a Microsoft
 * Graph client (@microsoft/microsoft-graph-client with TokenCredentialAuthenticationProvider, its default
 * middleware chain but for the last link: requests go out through this type's Graph HTTP client) and the
 * product's API (OData over the product HTTP client: Dataverse Web API, F&O entities, Business Central
 * API). Clients are cached per offer version and secret version.
 *
 * HTTP (issue 9, src/remote/http.ts): two undici dispatchers of their own, nothing process-wide: Graph's
 * (the runtime's CA list: the emulator's CA alone when emulated, system roots + extra CA otherwise; an
 * explicit DYNAMICS_GRAPH_ENDPOINT is trusted with the system roots + extra CA) and the product APIs'
 * (the runtime's CA list and a DNS lookup refusing non-public addresses).
 *
 * Outbound URL rule (issue 8, src/security/outbound-url.ts): the instance URLs come from the publisher,
 * so the product APIs check them before each call (rules 1-4) and connect through the product dispatcher,
 * whose DNS lookup refuses non-public addresses (rule 5, also against DNS rebinding). `outboundPolicy`
 * exempts the emulator in the emulated runtime. Graph is an operator setting (DYNAMICS_GRAPH_ENDPOINT), not checked.
 *
 * Graph endpoint: DYNAMICS_GRAPH_ENDPOINT, else `${authorityHost}/graph` against the emulator, else
 * https://graph.microsoft.com; token scope `https://graph.microsoft.com/.default` (the emulator accepts
 * that audience) or `${endpoint}/.default` for other clouds. Instance token scope: `${instanceUrl}/.default`.
 */
@Injectable()
export class DynamicsClients implements OnApplicationShutdown {
  /** HTTP client of Microsoft Graph. */
  private readonly graphHttp: RemoteHttp;
  /** HTTP client of the publishers' Dynamics 365 instances (guarded lookup). */
  private readonly productHttp: RemoteHttp;
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
    this.graphHttp = new RemoteHttp({ service: 'graph', ca: trustedCas(settings.graphEndpoint ? { ...ep, emulated: false } : ep) });
    this.productHttp = new RemoteHttp({ service: 'dataverse', ca: trustedCas(ep), lookup: guardedLookup(this.outboundPolicy) });
  }

  /** After in-flight session runs finished (DynamicsTestDriveType.beforeApplicationShutdown): closes both HTTP clients. */
  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.graphHttp.close(), this.productHttp.close()]);
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
      throw classifyRemoteError(err, 'token');
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
    const cfg = dynamicsConfigOf(offer.testDrive);
    const client = Client.initWithMiddleware({
      middleware: graphMiddleware(new TokenCredentialAuthenticationProvider(cred, { scopes: [this.graphScope] }), this.graphHttp),
      baseUrl: `${this.graphEndpoint}/`,
      customHosts: new Set([new URL(this.graphEndpoint).hostname]),
    });
    const product = productApiFor(cfg, cred, this.productHttp, this.outboundPolicy);
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

/**
 * The Graph client's default middleware chain (authentication, retry of 429/503/504 with Retry-After,
 * redirects, telemetry) whose last link sends through `http` (its own undici dispatcher) instead of
 * the global fetch.
 */
export function graphMiddleware(authProvider: TokenCredentialAuthenticationProvider, http: RemoteHttp): Middleware[] {
  const chain = MiddlewareFactory.getDefaultMiddlewareChain(authProvider);
  const send: Middleware = {
    execute: async (context: Context): Promise<void> => {
      const url = typeof context.request === 'string' ? context.request : (context.request as { url: string }).url;
      context.response = await http.fetch(url, context.options as Record<string, unknown> | undefined);
    },
  };
  chain[chain.length - 1] = send;
  return chain;
}
