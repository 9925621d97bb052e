import * as https from 'node:https';
import { Injectable } from '@nestjs/common';
import { TableClient } from '@azure/data-tables';
import { AzureRuntime, sharedAgentPolicy } from '../azure/azure-runtime';
import { RemoteHttp, trustedCas } from '../remote/http';
import { classifyRemoteError, RemoteError, retryAfterFromHeaders } from '../remote/remote-error';
import {
  assertOutboundUrlSyntax,
  DYNAMICS_365_ENDPOINTS,
  guardedLookup,
  outboundPolicyFor,
  outboundRefusalOf,
  OutboundUrlRefusedError,
  PUBLISHER_RECEIVER_ENDPOINTS,
} from '../security/outbound-url';
import { dataverseLead, httpsLeadPayload, LeadRecord, LEADS_TABLE, tableLeadEntity } from './lead-format';
import { checkTableEndpoint, StoredLeadDestination } from './lead-destination';

/** What one delivery attempt gave. `permanent`: retrying as is will not help (fix the destination). */
export type DeliveryOutcome = { ok: true } | { ok: false; code: string; message: string; status?: number; permanent: boolean; retryAfterMs?: number };

/** HTTP answers of a destination that will not heal by retrying (the payload or the credentials are refused). */
const PERMANENT_STATUSES = new Set([400, 401, 403, 404, 405, 410, 413, 415, 422]);

/**
 * Sends one lead to one destination, idempotently at the destination (issue 10: exactly once there):
 * - `https-endpoint`: POST of the Partner Center JSON shape with `Idempotency-Key: <lead id>` and the
 *   stable `LeadId` field; 2xx = delivered. The URL must pass the outbound URL rule (public https host;
 *   the emulator's receivers are the one exception in emulated mode), checked again on the connection.
 * - `azure-table`: upsert (Replace) of entity PartitionKey = offer id, RowKey = lead id into table
 *   `MarketplaceLeads` (created when missing) with @azure/data-tables. The table endpoint must pass the
 *   outbound URL rule (checkTableEndpoint: https on an Azure Table host; Azurite's in emulated mode), checked
 *   again on the connection (a guarded lookup), and redirects are not followed.
 * - `dynamics-365`: Dataverse `PATCH leads(new_testdriveleadid='<lead id>')` (upsert by alternate key)
 *   with a client-credentials token from @azure/identity for the environment.
 * Never throws: every failure is an outcome with a code, a message without secrets, and whether to retry.
 */
@Injectable()
export class LeadSender {
  private readonly http: RemoteHttp;
  /** Sockets to Azure Table endpoints: the outbound URL rule's lookup on every connection (DNS rebinding). */
  private readonly tableAgent: https.Agent;

  constructor(private readonly runtime: AzureRuntime) {
    const ca = trustedCas(runtime.endpoints);
    this.tableAgent = new https.Agent({ keepAlive: true, maxSockets: 8, lookup: guardedLookup(outboundPolicyFor(runtime.endpoints)), ...(ca ? { ca } : {}) });
    this.http = new RemoteHttp({
      service: 'leadEndpoint',
      ca,
      lookup: guardedLookup(outboundPolicyFor(runtime.endpoints)),
      headersTimeoutMs: 30_000,
      connections: 8,
    });
  }

  /** Delivers `lead` to `destination` using its `secret` (URL, connection string or client secret). */
  async send(destination: StoredLeadDestination, secret: string, lead: LeadRecord): Promise<DeliveryOutcome> {
    try {
      switch (destination.type) {
        case 'https-endpoint':
          return await this.toHttps(secret, lead);
        case 'azure-table':
          return await this.toTable(secret, lead);
        case 'dynamics-365':
          return await this.toDataverse(destination, secret, lead);
      }
    } catch (err) {
      return outcomeOf(err, destination.type === 'azure-table' ? 'table' : destination.type === 'dynamics-365' ? 'dataverse' : 'leadEndpoint');
    }
  }

  private async toHttps(url: string, lead: LeadRecord): Promise<DeliveryOutcome> {
    assertOutboundUrlSyntax(url, PUBLISHER_RECEIVER_ENDPOINTS, outboundPolicyFor(this.runtime.endpoints));
    const a = await this.http.send('POST', url, { headers: { 'Idempotency-Key': lead.id }, body: httpsLeadPayload(lead) });
    if (a.status >= 200 && a.status < 300) return { ok: true };
    return statusOutcome(a.status, retryAfterFromHeaders(a.headers), `The lead endpoint answered ${a.status}.`);
  }

  private async toTable(connectionString: string, lead: LeadRecord): Promise<DeliveryOutcome> {
    const table = checkTableEndpoint(connectionString, this.runtime.endpoints);
    if ('problem' in table) throw new OutboundUrlRefusedError(`The Azure Table storage endpoint was not called: its connection string ${table.problem}.`);
    const client = TableClient.fromConnectionString(connectionString, LEADS_TABLE, {
      allowInsecureConnection: table.azurite,
      retryOptions: { maxRetries: 1 },
      redirectOptions: { maxRetries: 0 },
      ...(table.azurite ? {} : { additionalPolicies: [{ policy: sharedAgentPolicy(this.tableAgent), position: 'perCall' as const }] }),
    });
    try {
      await client.upsertEntity(tableLeadEntity(lead), 'Replace');
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
      await client.createTable();
      await client.upsertEntity(tableLeadEntity(lead), 'Replace');
    }
    return { ok: true };
  }

  private async toDataverse(d: Extract<StoredLeadDestination, { type: 'dynamics-365' }>, clientSecret: string, lead: LeadRecord): Promise<DeliveryOutcome> {
    const base = assertOutboundUrlSyntax(d.instanceWebApiUrl, DYNAMICS_365_ENDPOINTS, outboundPolicyFor(this.runtime.endpoints));
    const credential = this.runtime.credential(d.tenantId, d.clientId, clientSecret);
    // The token's audience is the environment's instance URL (the Web API URL without /api/data/v9.x).
    const instanceUrl = d.instanceWebApiUrl.replace(/\/api\/data\/v\d+(?:\.\d+)?\/?$/i, '');
    const token = await credential.getToken(`${instanceUrl || base.origin}/.default`);
    if (!token) return { ok: false, code: 'AuthenticationFailed', message: 'No token for the Dynamics 365 environment.', permanent: true };
    const url = `${d.instanceWebApiUrl.replace(/\/+$/, '')}/leads(new_testdriveleadid='${lead.id}')`;
    const body = Object.fromEntries(Object.entries(dataverseLead(lead)).filter(([, v]) => v !== undefined));
    const a = await this.http.send('PATCH', url, {
      headers: { authorization: `Bearer ${token.token}`, 'OData-Version': '4.0', 'OData-MaxVersion': '4.0', accept: 'application/json' },
      body,
      service: 'dataverse',
    });
    if (a.status >= 200 && a.status < 300) return { ok: true };
    const msg = (a.body as { error?: { message?: string } } | undefined)?.error?.message;
    return statusOutcome(a.status, retryAfterFromHeaders(a.headers), `Dataverse answered ${a.status}${msg ? `: ${msg.slice(0, 200)}` : ''}.`);
  }
}

function statusOutcome(status: number, retryAfterMs: number | undefined, message: string): DeliveryOutcome {
  return { ok: false, code: `Http${status}`, message, status, permanent: PERMANENT_STATUSES.has(status), ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

function outcomeOf(err: unknown, service: 'leadEndpoint' | 'table' | 'dataverse'): DeliveryOutcome {
  const refusal = outboundRefusalOf(err);
  if (refusal) return { ok: false, code: refusal.code, message: refusal.message, permanent: true };
  const e = err instanceof RemoteError ? err : classifyRemoteError(err, service);
  const permanent = e.kind === 'credential' || e.kind === 'denied' || e.kind === 'invalid' || e.kind === 'notFound';
  return { ok: false, code: e.code, message: e.message.slice(0, 500), ...(e.status ? { status: e.status } : {}), permanent, ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}) };
}
