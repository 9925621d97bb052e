import { z } from 'zod';

/**
 * POST /offers/{offerId}/sessions body. The customer fields are the lead the publisher receives
 * (test drive rules: FirstName, LastName, Email, Country, Company); region is optional.
 */
export const StartSessionSchema = z.strictObject({
  customer: z.strictObject({
    email: z.string({ message: 'customer.email is required' }).max(254, 'at most 254 characters').email('must be an email address'),
    firstName: z.string({ message: 'customer.firstName is required' }).trim().min(1, 'must not be empty').max(100, 'at most 100 characters'),
    lastName: z.string({ message: 'customer.lastName is required' }).trim().min(1, 'must not be empty').max(100, 'at most 100 characters'),
    company: z.string().max(200, 'at most 200 characters').optional(),
    country: z
      .string()
      .regex(/^[A-Za-z]{2}$/, 'must be a two-letter ISO 3166 country code, e.g. "US"')
      .transform((c) => c.toUpperCase())
      .optional(),
  }),
  region: z.string().max(40, 'at most 40 characters').optional(),
});
export type StartSessionBody = z.infer<typeof StartSessionSchema>;

/** Idempotency-Key header: 1-255 visible ASCII characters (ours, as Stripe and the IETF draft). */
export const IdempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'Idempotency-Key must be 1-255 visible ASCII characters');

/** A session as the API returns it. Times are ISO 8601 UTC. */
export interface SessionView {
  id: string;
  offerId: string;
  type: string;
  state: string;
  region: string | null;
  instanceKind: string | null;
  accessInformation: string | null;
  outputs: Record<string, string> | null;
  customer: { email: string; firstName: string; lastName: string; company?: string; country?: string };
  durationHours: number;
  requestedAt: string | null;
  readyAt: string | null;
  expiresAt: string | null;
  endedAt: string | null;
  endReason: string | null;
  failure: { code: string; message: string } | null;
}
