import { isValid as isValidCountry } from 'i18n-iso-countries';
import { z } from 'zod';
import { pageLimitSchema } from '../common/validation';
import { apiComponent } from '../common/openapi';
import { leadRequestSchema } from '../leads/lead-format';
import { beforeQuerySchema } from '../common/page-cursor';
import type { SessionState } from './session.entity';

/** Session states, as `state` of a session and the `state` filter of a list. */
export const SESSION_STATES = ['queued', 'provisioning', 'ready', 'ending', 'ended', 'failed'] as const satisfies readonly SessionState[];

/**
 * POST /offers/{offerId}/sessions body. The customer fields are the lead the publisher receives
 * (test drive rules: FirstName, LastName, Email, Country, Company); region is optional.
 */
export const StartSessionSchema = apiComponent(
  'StartSessionBody',
  z
    .strictObject({
      customer: z
        .strictObject({
          email: z
            .string({ message: 'customer.email is required' })
            .max(254, 'at most 254 characters')
            .email('must be an email address')
            .meta({ description: 'Email address, at most 254 characters.', example: 'ada@example.com' }),
          firstName: z
            .string({ message: 'customer.firstName is required' })
            .trim()
            .min(1, 'must not be empty')
            .max(100, 'at most 100 characters')
            .meta({ description: '1-100 characters.', example: 'Ada' }),
          lastName: z
            .string({ message: 'customer.lastName is required' })
            .trim()
            .min(1, 'must not be empty')
            .max(100, 'at most 100 characters')
            .meta({ description: '1-100 characters.', example: 'Lovelace' }),
          company: z.string().max(200, 'at most 200 characters').optional().meta({ description: 'At most 200 characters.', example: 'Analytical Engines Ltd' }),
          phone: z
            .string()
            .max(40, 'at most 40 characters')
            .regex(/^[0-9+()./\s-]*$/, 'may hold digits, spaces and + ( ) . / - only')
            .optional()
            .meta({ description: 'Phone number, at most 40 characters.', example: '+44 20 7946 0000' }),
          title: z.string().max(100, 'at most 100 characters').optional().meta({ description: 'Job title, at most 100 characters.', example: 'CTO' }),
          country: z
            .string()
            .regex(/^[A-Za-z]{2}$/, { message: 'must be a two-letter ISO 3166 country code, e.g. "US"', abort: true })
            // An assigned code, not any two letters: it becomes the Dynamics 365 user's usageLocation (Graph
            // refuses others) and the country of the publisher's lead.
            .refine((c) => isValidCountry(c), 'must be an assigned ISO 3166-1 alpha-2 country code, e.g. "US"')
            .transform((c) => c.toUpperCase())
            .optional()
            .meta({ description: 'ISO 3166-1 alpha-2 country code, an assigned one (stored upper case).', example: 'GB' }),
        })
        .meta({ description: 'The customer: the lead the publisher receives.' }),
      region: z
        .string()
        .max(40, 'at most 40 characters')
        .optional()
        .meta({ description: "ARM location to start in (one of the offer's regions); without it, any region with capacity.", example: 'westeurope' }),
      whenFull: z
        .enum(['refuse', 'queue'], { message: 'whenFull must be "refuse" or "queue"' })
        .default('refuse')
        .meta({ description: 'When nothing is free: refuse (409 NoCapacity with Retry-After, the default) or queue (202, state queued with queuePosition and estimatedReadyAt; served first in, first out).', example: 'queue' }),
      source: leadRequestSchema.source.meta({ description: 'Where the customer came from (lead source); default LEADS_DEFAULT_SOURCE (AzureMarketplace).', example: 'AzureMarketplace' }),
      consentToShare: leadRequestSchema.consentToShare.meta({
        description: 'The customer agreed to share contact details with the publisher (default true: the marketplace asks before a test drive starts). false: the lead carries only the offer, the source and the action.',
        example: true,
      }),
    })
    .meta({
      description: 'Who starts the test drive, and optionally where.',
      example: { customer: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Analytical Engines Ltd', country: 'GB' }, region: 'westeurope' },
    }),
);
export type StartSessionBody = z.infer<typeof StartSessionSchema>;

/** Idempotency-Key header: 1-255 visible ASCII characters (ours, as Stripe and the IETF draft). */
export const IdempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,255}$/, 'Idempotency-Key must be 1-255 visible ASCII characters')
  .meta({ example: '8e03978e-40d5-43e8-bc93-6894a57f9324' });

/** The session path parameter `id`. */
export const sessionIdParamSchema = z.string().meta({ description: 'Session id (from the start answer or its Location header).', example: '0f8fad5b-d9cb-469f-a165-70867728950e' });

const sessionExample = {
  id: '0f8fad5b-d9cb-469f-a165-70867728950e',
  offerId: 'contoso-web',
  type: 'azure-resource-manager',
  state: 'ready',
  queuePosition: null,
  estimatedReadyAt: null,
  region: 'westeurope',
  instanceKind: 'hot',
  accessInformation: '<p>Open https://contoso-x.azurewebsites.net as admin68876</p>',
  outputs: { siteUrl: 'https://contoso-x.azurewebsites.net', userName: 'admin68876', password: '…' },
  customer: { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', country: 'GB' },
  durationHours: 2,
  requestedAt: '2026-11-21T10:00:00.000Z',
  readyAt: '2026-11-21T10:00:00.120Z',
  expiresAt: '2026-11-21T12:00:00.120Z',
  endedAt: null,
  endReason: null,
  failure: null,
  deprovisioningFailedAt: null,
  deprovisioningAcknowledgedAt: null,
};

/** A session as the API returns it. Times are ISO 8601 UTC (null until they happen). */
export const sessionViewSchema = apiComponent(
  'SessionView',
  z
    .object({
      id: z.string().meta({ example: '0f8fad5b-d9cb-469f-a165-70867728950e' }),
      offerId: z.string().meta({ example: 'contoso-web' }),
      type: z.string().meta({ description: 'Test drive type of the offer.', example: 'azure-resource-manager' }),
      state: z
        .enum(SESSION_STATES)
        .meta({ description: 'queued: waiting for capacity (queuePosition, estimatedReadyAt); provisioning: poll until ready (access information then present); ending, ended: over; failed: see failure.' }),
      queuePosition: z.number().int().nullable().meta({ description: 'queued: 1-based position among the requests of this offer (and region) ahead of it; null otherwise.', example: null }),
      estimatedReadyAt: z
        .string()
        .nullable()
        .meta({ description: 'queued or provisioning: when the session is expected to be ready (ISO 8601; from this offer\'s recent provisioning times and when capacity frees); null otherwise.', example: null }),
      region: z.string().nullable().meta({ description: 'ARM location of the instance (types with regions), else null.' }),
      instanceKind: z.string().nullable().meta({ description: 'ARM: hot (was waiting) or cold (deployed on request); null for other types.', example: 'hot' }),
      accessInformation: z
        .string()
        .nullable()
        .meta({ description: "The publisher's access information with this session's outputs filled in: only for the marketplace client that started the session, while it is live." }),
      outputs: z
        .record(z.string(), z.string())
        .nullable()
        .meta({ description: 'What the customer needs (URLs, user name, password): same rule as accessInformation.' }),
      customer: z
        .object({
          email: z.string(),
          firstName: z.string(),
          lastName: z.string(),
          company: z.string().optional(),
          country: z.string().optional(),
          phone: z.string().optional(),
          title: z.string().optional(),
        })
        .nullable()
        .meta({ description: "The customer's contact details; null for the offer's publisher when the customer did not consent to share them or has an .edu address (the lead's rule, docs/leads.md)." }),
      durationHours: z.number().int().meta({ example: 2 }),
      requestedAt: z.string().nullable(),
      readyAt: z.string().nullable(),
      expiresAt: z.string().nullable(),
      endedAt: z.string().nullable(),
      endReason: z.enum(['expired', 'ended', 'failed', 'unpublished']).nullable().meta({ description: 'Why the session ended (ended: ended early by DELETE, or a queued request cancelled; expired: its time was up, or a queued request waited too long: failure QueueTimeout).' }),
      failure: z.object({ code: z.string(), message: z.string() }).nullable().meta({ description: 'state failed: what went wrong.' }),
      deprovisioningFailedAt: z
        .string()
        .nullable()
        .meta({ description: 'When the teardown of what the session made gave up after every attempt (a Logic app\'s deprovisioning Logic App): resources may be left behind. Null: it did not.', example: null }),
      deprovisioningAcknowledgedAt: z
        .string()
        .nullable()
        .meta({ description: 'When an operator or the publisher acknowledged that failure (POST /sessions/{id}/acknowledge-deprovisioning); until then the offer has an open deprovisioning_failed incident.', example: null }),
    })
    .meta({ description: 'A test drive session.', example: sessionExample }),
);

/** A session as the API returns it. Times are ISO 8601 UTC. */
export type SessionView = z.infer<typeof sessionViewSchema>;

/** GET /offers/{offerId}/sessions: one page, newest first, without access information. */
export const sessionListSchema = apiComponent(
  'SessionList',
  z
    .object({
      value: z.array(sessionViewSchema),
      nextBefore: z.string().nullable().meta({ description: 'Pass as `before` for the next (older) page (`<requestedAt>~<session id>`); null at the end.' }),
    })
    .meta({ description: "A page of an offer's sessions, newest first (requestedAt), without access information.", example: { value: [{ ...sessionExample, accessInformation: null, outputs: null }], nextBefore: null } }),
);

/** Query of GET /offers/{offerId}/sessions (unknown parameters are refused). */
export const SessionListQuerySchema = z.strictObject({
  state: z.enum(SESSION_STATES).optional().meta({ description: 'Only sessions in this state.' }),
  limit: pageLimitSchema(500, 100, 'Sessions'),
  before: beforeQuerySchema.optional(),
});
