import { Client } from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials';
import { ClientSecretCredential } from '@azure/identity';
import * as tls from 'node:tls';
import type { DynamicsEnvironmentInfo, PublisherInfo } from '../../emulator/src';
import { fetchDispatcherTrusting } from '../../emulator/src/dynamics/clientTls';
import { LocalAzure, TestService } from '../support/harness';

export const customer = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Engines', country: 'GB' };

export type Product = 'customer-engagement' | 'business-central' | 'operations';

/** Emulator view of an environment (GET /_emulator/dynamics-environments/{name}). */
export interface EnvView {
  licenses: { total: number; inUse: number };
  roles: Array<{ name: string }>;
  users: Array<{ id: string; upn: string; licensed: boolean; inEnvironment: boolean; roles: string[] }>;
  roleAssignments: Array<{ upn: string; role: string; organizations: string[] }>;
}

export function envView(azure: LocalAzure, name: string): EnvView {
  return azure.emulator.getDynamicsEnvironment(name) as unknown as EnvView;
}

/** A publisher tenant with a Dynamics 365 environment of `product` (syncSeconds real seconds of sync delay). */
export async function publisherWithEnvironment(
  azure: LocalAzure,
  opts: { product: Product; licenses: number; roles: string[]; syncSeconds?: number; legalEntity?: string },
): Promise<{ publisher: PublisherInfo; env: DynamicsEnvironmentInfo }> {
  const publisher = await azure.emulator.createPublisher({});
  const env = azure.emulator.createDynamicsEnvironment({ tenantId: publisher.tenantId, product: opts.product, licenses: opts.licenses, roles: opts.roles, syncSeconds: opts.syncSeconds ?? 0.3, ...(opts.legalEntity ? { legalEntity: opts.legalEntity } : {}) });
  return { publisher, env };
}

/** PUT /offers body of a Dynamics 365 offer for `env`. */
export function offerBody(publisher: PublisherInfo, env: DynamicsEnvironmentInfo, td: Record<string, unknown> = {}, dep: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    alias: 'Dynamics trial',
    testDrive: {
      type: 'dynamics-365',
      product: env.product,
      durationHours: 2,
      maxConcurrent: 5,
      instanceUrl: env.instanceUrl,
      instanceWebApiUrl: env.instanceWebApiUrl,
      roleName: 'Salesperson',
      licenseSku: env.licenseSku,
      ...(env.product === 'operations' ? { trialLegalEntity: env.legalEntity } : {}),
      ...td,
    },
    deployment: { tenantId: publisher.tenantId, tenantName: publisher.tenantName, clientId: publisher.clientId, clientSecret: publisher.clientSecret, ...dep },
  };
}

/** Runs reconcile passes, moving the service clock 1 s per pass (sync polls back off in clock time), until `cond`. */
export function drive<T>(svc: TestService, cond: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  return svc.until(async () => {
    svc.clock.advance(1000);
    return cond();
  }, timeoutMs);
}

export async function sessionState(svc: TestService, id: string): Promise<{ state: string; endReason: string | null; failure: { code: string; message: string } | null; outputs: Record<string, string> | null; accessInformation: string | null }> {
  return (await svc.http.get(`/api/v1/sessions/${id}`).expect(200)).body;
}

/** The real Graph client as the publisher (direct checks and fixtures, independent of the service). */
export async function publisherGraph(azure: LocalAzure, p: PublisherInfo): Promise<Client> {
  const cred = new ClientSecretCredential(p.tenantId, p.clientId, p.clientSecret, { authorityHost: azure.emulator.url, disableInstanceDiscovery: true, tlsOptions: { ca: [...tls.rootCertificates, azure.emulator.caCertPem] } });
  return Client.initWithMiddleware({
    authProvider: new TokenCredentialAuthenticationProvider(cred, { scopes: ['https://graph.microsoft.com/.default'] }),
    baseUrl: `${azure.emulator.url}/graph/`,
    customHosts: new Set([new URL(azure.emulator.url).hostname]),
    fetchOptions: { dispatcher: await fetchDispatcherTrusting(azure.emulator.caCertPem) } as never,
  });
}

/** Users of the publisher's tenant that carry the test drive marker. */
export async function markedUsers(g: Client): Promise<Array<{ id: string; userPrincipalName: string; department: string }>> {
  const r = await g.api('/users').filter("employeeType eq 'TestDrive'").select('id,userPrincipalName,department,companyName').get();
  return r.value;
}
