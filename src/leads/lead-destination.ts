import { createHash } from 'node:crypto';
import { z } from 'zod';
import { guidSchema } from '../common/validation';
import { AZURE_TABLE_ENDPOINTS, OUTBOUND_URL_REFUSED, originOf, outboundPolicyFor, outboundUrlProblem } from '../security/outbound-url';

/**
 * Lead destinations an offer can deliver to (issue 10; Partner Center offered Dynamics 365, Azure Table
 * and an HTTPS endpoint among others: test drive rules, "Customer experience and leads").
 */
export const LEAD_DESTINATION_TYPES = ['https-endpoint', 'azure-table', 'dynamics-365'] as const;
export type LeadDestinationType = (typeof LEAD_DESTINATION_TYPES)[number];

const httpsUrl = (what: string) =>
  z
    .string({ message: `${what} must be an https URL` })
    .max(2048, `${what} must be at most 2,048 characters`)
    .refine((v) => {
      try {
        return new URL(v).protocol === 'https:';
      } catch {
        return false;
      }
    }, `${what} must be an absolute https URL`);

/** `leads` of PUT /offers/{offerId}: where the offer's leads go, and who hears about delivery problems. */
export const leadsConfigSchema = z
  .strictObject({
    destination: z
      .discriminatedUnion(
        'type',
        [
          z.strictObject({
            type: z.literal('https-endpoint'),
            url: httpsUrl('leads.destination.url').meta({
              description: 'Receiver of a POST per lead (Partner Center HTTPS endpoint shape). Kept in Key Vault (it may carry a signature) and never returned.',
              example: 'https://prod-00.westeurope.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?sig=…',
            }),
          }),
          z.strictObject({
            type: z.literal('azure-table'),
            connectionString: z
              .string({ message: 'leads.destination.connectionString must be a storage account connection string' })
              .min(1)
              .max(2048)
              .meta({ description: 'Storage account connection string; leads go to table MarketplaceLeads. Kept in Key Vault, never returned.' }),
          }),
          z.strictObject({
            type: z.literal('dynamics-365'),
            instanceWebApiUrl: httpsUrl('leads.destination.instanceWebApiUrl').meta({ example: 'https://contoso.crm.dynamics.com/api/data/v9.2' }),
            tenantId: guidSchema('leads.destination.tenantId'),
            clientId: guidSchema('leads.destination.clientId'),
            clientSecret: z.string().min(1).max(1024).optional().meta({ description: 'Required when first set; kept in Key Vault, never returned.' }),
          }),
        ],
        { message: `leads.destination.type must be one of ${LEAD_DESTINATION_TYPES.join(', ')}` },
      )
      .nullable()
      .optional()
      .meta({ description: 'null removes the destination; leads then wait (pending) until one is configured.' }),
    contactEmail: z.email({ message: 'leads.contactEmail must be an email address' }).max(254).optional(),
  })
  .meta({ description: 'Lead management: where each test drive start is delivered (issue 10).' });
export type LeadsConfigInput = z.infer<typeof leadsConfigSchema>;

/** A destination as stored on the offer: no secret (that is in Key Vault). */
export type StoredLeadDestination =
  | { type: 'https-endpoint'; origin: string }
  | { type: 'azure-table'; account: string }
  | { type: 'dynamics-365'; instanceWebApiUrl: string; tenantId: string; clientId: string };

/** offer.leads: the destination without its secret, the Key Vault reference of the secret, the contact. */
export interface StoredLeadsConfig {
  destination: StoredLeadDestination | null;
  contactEmail?: string;
  secretName?: string;
  secretVersion?: string;
  /** The last test lead (MSFT_TEST_) sent to this destination: when (epoch ms), and whether it arrived. */
  lastTestLead?: { at: number; delivered: boolean; message?: string };
}

/** The secret part of a destination and the field it came from (for messages). */
export function destinationSecret(d: NonNullable<LeadsConfigInput['destination']>): { secret: string | undefined; target: string } {
  switch (d.type) {
    case 'https-endpoint':
      return { secret: d.url, target: 'leads.destination.url' };
    case 'azure-table':
      return { secret: d.connectionString, target: 'leads.destination.connectionString' };
    case 'dynamics-365':
      return { secret: d.clientSecret, target: 'leads.destination.clientSecret' };
  }
}

/** The field holding the secret of a destination type (named in problems and warnings). */
export function secretTargetOf(type: LeadDestinationType): string {
  return type === 'https-endpoint' ? 'leads.destination.url' : type === 'azure-table' ? 'leads.destination.connectionString' : 'leads.destination.clientSecret';
}

/** The account name of a storage connection string (AccountName=...), or undefined. */
export function accountOf(connectionString: string): string | undefined {
  return /(?:^|;)\s*AccountName=([^;]+)/i.exec(connectionString)?.[1];
}

/** The destination without its secret. */
export function storedDestination(d: NonNullable<LeadsConfigInput['destination']>): StoredLeadDestination {
  switch (d.type) {
    case 'https-endpoint':
      return { type: d.type, origin: new URL(d.url).origin };
    case 'azure-table':
      return { type: d.type, account: accountOf(d.connectionString) ?? 'unknown' };
    case 'dynamics-365':
      return { type: d.type, instanceWebApiUrl: d.instanceWebApiUrl.replace(/\/+$/, ''), tenantId: d.tenantId.toLowerCase(), clientId: d.clientId.toLowerCase() };
  }
}

/** The offer view's `leads`: the destination without secrets plus `secretSet`, and the contact. */
export function leadsView(stored: StoredLeadsConfig | null | undefined): Record<string, unknown> | null {
  if (!stored) return null;
  return {
    destination: stored.destination ? { ...stored.destination, secretSet: !!stored.secretVersion } : null,
    ...(stored.contactEmail ? { contactEmail: stored.contactEmail } : {}),
    ...(stored.lastTestLead ? { lastTestLead: { ...stored.lastTestLead, at: new Date(stored.lastTestLead.at).toISOString() } } : {}),
  };
}

/**
 * Key Vault name of an offer's lead destination secret: `offer-<id>-lead-destination`, '_' replaced by
 * '-' (Key Vault names allow 0-9 a-z A-Z '-') plus a short hash of the real id when that happened.
 */
export function leadSecretNameFor(offerId: string): string {
  const safe = offerId.replace(/[^0-9a-zA-Z-]/g, '-');
  const suffix = safe === offerId ? '' : `-${createHash('sha256').update(offerId).digest('hex').slice(0, 8)}`;
  return `offer-${safe}${suffix}-lead-destination`;
}

/** Azurite's table endpoint when a connection string says `UseDevelopmentStorage=true`. */
const DEVELOPMENT_STORAGE_TABLE_ENDPOINT = 'http://127.0.0.1:10002/devstoreaccount1';

/**
 * The table endpoint a storage connection string makes @azure/data-tables call: its `TableEndpoint`, else
 * `<DefaultEndpointsProtocol>://<AccountName>.table.<EndpointSuffix>` (https and core.windows.net when
 * absent), or Azurite's for `UseDevelopmentStorage=true`. Keys compare case-insensitively, as the SDK's.
 * @returns the endpoint URL as written, or undefined when the string names none.
 */
export function tableEndpointOf(connectionString: string): string | undefined {
  const parts = new Map<string, string>();
  for (const pair of connectionString.split(';')) {
    const i = pair.indexOf('=');
    if (i > 0) parts.set(pair.slice(0, i).trim().toLowerCase(), pair.slice(i + 1).trim());
  }
  const explicit = parts.get('tableendpoint');
  if (explicit) return explicit;
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') return DEVELOPMENT_STORAGE_TABLE_ENDPOINT;
  const account = parts.get('accountname');
  if (!account) return undefined;
  return `${parts.get('defaultendpointsprotocol') || 'https'}://${account}.table.${parts.get('endpointsuffix') || 'core.windows.net'}`;
}

/** The comparable origin of a URL (originOf), or undefined when it is not one. */
function originOfUrl(raw: string): string | undefined {
  return URL.canParse(raw) ? originOf(new URL(raw)) : undefined;
}

/**
 * Where an `azure-table` lead destination would be written, checked by the outbound URL rule (docs/security.md,
 * "Outbound URLs"): the table endpoint of `connectionString` (tableEndpointOf) must be https on an Azure Table
 * host (AZURE_TABLE_ENDPOINTS), named by a DNS name, port 443. The one exception is the emulated runtime's own
 * Azurite table service (the `TableEndpoint` of `endpoints.storageConnectionString`), which speaks http.
 * @returns `{endpoint, azurite}` to call, or `{code, problem}`: InvalidField (no endpoint named) or
 *   OutboundUrlRefused, with a message naming the rule, never the value.
 */
export function checkTableEndpoint(
  connectionString: string,
  endpoints: { emulated: boolean; authorityHost: string; storageConnectionString: string },
): { endpoint: string; azurite: boolean } | { code: string; problem: string } {
  const endpoint = tableEndpointOf(connectionString);
  if (!endpoint) return { code: 'InvalidField', problem: 'must be a storage account connection string (AccountName=…;AccountKey=…; or TableEndpoint=…;SharedAccessSignature=…)' };
  const azurite = endpoints.emulated ? /(?:^|;)\s*TableEndpoint=([^;]+)/i.exec(endpoints.storageConnectionString)?.[1] : undefined;
  if (azurite && originOfUrl(endpoint) === originOfUrl(azurite)) return { endpoint, azurite: true };
  const problem = outboundUrlProblem(endpoint, AZURE_TABLE_ENDPOINTS, outboundPolicyFor(endpoints));
  return problem ? { code: OUTBOUND_URL_REFUSED, problem: `names a table endpoint that ${problem}` } : { endpoint, azurite: false };
}
