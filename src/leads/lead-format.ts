import { z } from 'zod';

/**
 * Where the customer came from (Partner Center lead sources; the marketplace sends one with each start).
 * Source: test drive rules, "Customer experience and leads"; Partner Center "Customer leads from your
 * commercial marketplace offer".
 */
export const LEAD_SOURCES = ['AzureMarketplace', 'AppSource', 'AzurePortal'] as const;
export type LeadSourceName = (typeof LEAD_SOURCES)[number];

/** The action of a test drive start (Partner Center: `StartTestDrive`, "whenever a customer starts their test drive"). */
export const START_TEST_DRIVE_ACTION = 'StartTestDrive';

/** Prefix of every field of a test lead (Partner Center sends one when a destination is configured). */
export const TEST_LEAD_PREFIX = 'MSFT_TEST_';

/** The customer's contact details as a lead carries them (Partner Center: FirstName, LastName, Email, Phone, Country, Company, Title). */
export interface LeadContact {
  firstName: string;
  lastName: string;
  email: string;
  phone?: string;
  country?: string;
  company?: string;
  title?: string;
}

/** A lead as the service keeps it (the outbox row holds this plus delivery state). */
export interface LeadRecord {
  /** Stable id (UUID): the destination's de-duplication key. */
  id: string;
  offerId: string;
  /** Publisher id in LeadSource: the offer owner's tenant id. */
  publisherId: string;
  offerTitle: string;
  source: LeadSourceName;
  action: string;
  /** Contact details, or null when none may leave the service (no consent, or an .edu address). */
  contact: LeadContact | null;
  /** When the lead was produced (epoch ms). */
  createdAt: number;
  /** True for a test lead (fields prefixed MSFT_TEST_). */
  test: boolean;
}

/**
 * `LeadSource = <Source>-<Action>|<publisherId>.<offerId>` (test drive rules; Partner Center lead format,
 * e.g. `AzureMarketplace-StartTestDrive|contoso.contoso-crm`).
 */
export function leadSource(source: string, action: string, publisherId: string, offerId: string): string {
  return `${source}-${action}|${publisherId}.${offerId}`;
}

/**
 * The contact details that may leave the service: none when the customer did not consent to share
 * them, or when the address is an `.edu` one (Partner Center: no personal data for .edu addresses).
 */
export function shareableContact(contact: LeadContact, consentToShare: boolean): LeadContact | null {
  if (!consentToShare) return null;
  const domain = contact.email.split('@').pop()?.toLowerCase() ?? '';
  if (domain === 'edu' || domain.endsWith('.edu')) return null;
  return contact;
}

/**
 * The JSON an HTTPS-endpoint destination receives, in the shape Partner Center's HTTPS endpoint uses
 * ("Use an HTTPS endpoint to manage commercial marketplace leads": `UserDetails` {FirstName, LastName,
 * Email, Phone, Country, Company, Title}, `LeadSource`, `ActionCode`, `OfferTitle`, `Description`), plus
 * `LeadId` (stable: a receiver de-duplicates on it) and `CreatedTimeUtc`. Without shareable contact
 * details `UserDetails` carries empty strings.
 */
export function httpsLeadPayload(lead: LeadRecord): Record<string, unknown> {
  const c = lead.contact;
  const p = lead.test ? TEST_LEAD_PREFIX : '';
  return {
    LeadId: lead.id,
    UserDetails: {
      FirstName: c ? p + c.firstName : '',
      LastName: c ? p + c.lastName : '',
      Email: c ? p + c.email : '',
      Phone: c?.phone ? p + c.phone : '',
      Country: c?.country ?? '',
      Company: c?.company ? p + c.company : '',
      Title: c?.title ? p + c.title : '',
    },
    LeadSource: p + leadSource(lead.source, lead.action, lead.publisherId, lead.offerId),
    ActionCode: lead.action,
    OfferTitle: p + lead.offerTitle,
    Description: lead.test ? `${TEST_LEAD_PREFIX}Test lead sent when the lead destination was configured.` : `Test drive started for offer ${lead.offerId}.`,
    CreatedTimeUtc: new Date(lead.createdAt).toISOString(),
  };
}

/**
 * The entity an Azure Table destination stores: table `MarketplaceLeads`, PartitionKey = offer id,
 * RowKey = lead id, so a redelivery overwrites (upsert) instead of duplicating.
 */
export function tableLeadEntity(lead: LeadRecord): Record<string, string> & { partitionKey: string; rowKey: string } {
  const h = httpsLeadPayload(lead);
  const u = h.UserDetails as Record<string, string>;
  return {
    partitionKey: lead.offerId,
    rowKey: lead.id,
    LeadSource: h.LeadSource as string,
    ActionCode: h.ActionCode as string,
    OfferTitle: h.OfferTitle as string,
    FirstName: u.FirstName,
    LastName: u.LastName,
    Email: u.Email,
    Phone: u.Phone,
    Country: u.Country,
    Company: u.Company,
    Title: u.Title,
    CreatedTimeUtc: h.CreatedTimeUtc as string,
  };
}

/** Table name of Azure Table lead destinations (Partner Center: `MarketplaceLeads`). */
export const LEADS_TABLE = 'MarketplaceLeads';

/**
 * The Dataverse `lead` record of a Dynamics 365 destination, upserted by the alternate key
 * `new_testdriveleadid` = lead id (the emulator declares it; a real environment needs that column as an
 * alternate key). `leadsourcecode` 8 = "Web"; LeadSource travels in `description`.
 */
export function dataverseLead(lead: LeadRecord): Record<string, unknown> {
  const h = httpsLeadPayload(lead);
  const u = h.UserDetails as Record<string, string>;
  return {
    subject: `${h.OfferTitle as string}: test drive`,
    firstname: u.FirstName || undefined,
    lastname: u.LastName || 'Test drive customer',
    emailaddress1: u.Email || undefined,
    telephone1: u.Phone || undefined,
    companyname: u.Company || undefined,
    jobtitle: u.Title || undefined,
    address1_country: u.Country || undefined,
    leadsourcecode: 8,
    description: h.LeadSource,
  };
}

/** Lead fields of POST /offers/{offerId}/sessions (Partner Center lead: contact details, source, consent). */
export const leadRequestSchema = {
  source: z.enum(LEAD_SOURCES, { message: `source must be one of ${LEAD_SOURCES.join(', ')}` }).optional(),
  consentToShare: z.boolean({ message: 'consentToShare must be true or false' }).optional(),
};
