import { createHash, createHmac } from 'node:crypto';
import { z } from 'zod';
import type { ErrorDetail } from '../common/api-error';
import { httpsUrlSchema } from '../common/validation';

/**
 * `escalation` of PUT /offers/{offerId} (issue 11; Partner Center had an escalation e-mail, we add a
 * webhook): who hears when the offer needs a human. `webhookSecret` signs each webhook (see
 * signWebhook); it is kept in Key Vault and never returned.
 */
export const escalationConfigSchema = z
  .strictObject({
    emails: z
      .array(z.email({ message: 'must be an e-mail address' }).max(254, 'must be at most 254 characters'))
      .max(10, 'at most 10 addresses')
      .default([])
      .meta({ description: 'Addresses that get an e-mail when an incident opens and when it resolves.', example: ['oncall@contoso.com'] }),
    webhookUrl: httpsUrlSchema()
      .nullable()
      .optional()
      .meta({ description: 'HTTPS endpoint that gets a signed JSON POST per incident event (header X-TestDrive-Signature).', example: 'https://ops.contoso.com/hooks/testdrive' }),
    webhookSecret: z
      .string({ message: 'must be a string' })
      .min(16, 'must be at least 16 characters')
      .max(200, 'must be at most 200 characters')
      .optional()
      .meta({ description: 'HMAC-SHA256 key of the webhook signature (write-only; required with a new webhookUrl; kept in Key Vault).' }),
  })
  .meta({ description: 'Escalation: e-mails and a signed webhook for incidents (pool backing off, offer degraded, deprovisioning failed, secret expiring, leads failing).' });

/** The validated `escalation` section. */
export type EscalationConfigInput = z.infer<typeof escalationConfigSchema>;

/** offer.escalation as stored: no secret, a Key Vault reference to it. */
export interface StoredEscalationConfig {
  emails: string[];
  webhookUrl: string | null;
  secretName?: string;
  secretVersion?: string;
}

/** The view of offer.escalation in API answers (never the secret). */
export function escalationView(c: StoredEscalationConfig | null | undefined): { emails: string[]; webhookUrl: string | null; webhookSecretSet: boolean } | null {
  if (!c) return null;
  return { emails: c.emails, webhookUrl: c.webhookUrl, webhookSecretSet: !!c.secretVersion };
}

/** Name of the signature header of escalation webhooks. */
export const WEBHOOK_SIGNATURE_HEADER = 'X-TestDrive-Signature';

/**
 * The signature header value of a webhook body: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
 * (the timestamp is signed with the body, so a receiver refuses replays older than its tolerance, e.g.
 * 5 minutes). Verify by recomputing over the raw body bytes and comparing in constant time. With several
 * secrets (a rotation's overlap: the new one first) there is one `v1=` per secret, as in Stripe's scheme;
 * a receiver accepts the body when any `v1` matches a secret it holds.
 */
export function signWebhook(secrets: string | readonly string[], body: string, unixSeconds: number): string {
  const macs = (typeof secrets === 'string' ? [secrets] : secrets).map((secret) => `v1=${createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`);
  return [`t=${unixSeconds}`, ...macs].join(',');
}

/**
 * Key Vault name of an offer's webhook signing secret: `offer-<id>-escalation-webhook` ('_' and other
 * characters Key Vault refuses become '-', plus a short hash of the real id when that happened).
 */
export function escalationSecretNameFor(offerId: string): string {
  const safe = offerId.replace(/[^0-9a-zA-Z-]/g, '-');
  const suffix = safe === offerId ? '' : `-${createHash('sha256').update(offerId).digest('hex').slice(0, 8)}`;
  return `offer-${safe}${suffix}-escalation-webhook`;
}

/** What prepareEscalationConfig needs of the world: Key Vault and the outbound URL rule. */
export interface EscalationConfigDeps {
  setSecret(name: string, value: string, tags: Record<string, string>): Promise<{ name: string; version: string }>;
  checkWebhookUrl(url: string): Promise<ErrorDetail[]>;
}

/**
 * The `escalation` section of PUT /offers/{id} as stored: e-mails, webhook URL, the signing secret
 * written to Key Vault as a new version (kept when omitted and the URL is unchanged).
 * @returns the stored config, or problems naming fields (escalation.webhookSecret missing; the URL
 *   refused by the outbound URL rule).
 */
export async function prepareEscalationConfig(
  offerId: string,
  input: EscalationConfigInput | null,
  existing: StoredEscalationConfig | null | undefined,
  deps: EscalationConfigDeps,
): Promise<{ stored?: StoredEscalationConfig | null; problems: ErrorDetail[] }> {
  if (input === null) return { stored: null, problems: [] };
  const emails = [...new Set(input.emails.map((e) => e.toLowerCase()))];
  const url = input.webhookUrl ?? null;
  if (!url) return { stored: { emails, webhookUrl: null }, problems: [] };
  const problems: ErrorDetail[] = [];
  const keep = !input.webhookSecret && existing?.webhookUrl === url && !!existing.secretVersion;
  if (!input.webhookSecret && !keep) problems.push({ code: 'InvalidField', target: 'escalation.webhookSecret', message: 'Required with a new webhookUrl: the key the webhook signature (HMAC-SHA256) is made with, 16-200 characters.' });
  problems.push(...(await deps.checkWebhookUrl(url)));
  if (problems.length) return { problems };
  const ref = keep ? { name: existing.secretName!, version: existing.secretVersion! } : await deps.setSecret(escalationSecretNameFor(offerId), input.webhookSecret!, { offerId, purpose: 'escalation-webhook' });
  return { stored: { emails, webhookUrl: url, secretName: ref.name, secretVersion: ref.version }, problems: [] };
}

/** What a signed POST gave: null when the receiver took it (2xx), else why not (permanent: retrying as is will not help). */
export type SignedPostError = { code: string; message: string; permanent?: boolean } | null;

/**
 * POSTs `body` (JSON text) to `url` signed with `secret` (or each of several: WEBHOOK_SIGNATURE_HEADER over `<t>.<body>`,
 * signWebhook) and `Idempotency-Key: <id>`: escalation webhooks and marketplace callbacks. 2xx is taken;
 * 400, 401, 403, 404 and 410 will not heal by retrying. `what` names the receiver in the error message.
 * @throws RemoteError when no answer came (RemoteHttp.send).
 */
export async function postSigned(
  http: { send(method: string, url: string, options: { headers: Record<string, string>; body: string }): Promise<{ status: number }> },
  url: string,
  secret: string | readonly string[],
  body: string,
  unixSeconds: number,
  id: string,
  what: string,
  extraHeaders: Record<string, string> = {},
): Promise<SignedPostError> {
  const a = await http.send('POST', url, { headers: { 'content-type': 'application/json', [WEBHOOK_SIGNATURE_HEADER]: signWebhook(secret, body, unixSeconds), 'Idempotency-Key': id, ...extraHeaders }, body });
  if (a.status >= 200 && a.status < 300) return null;
  return { code: `Http${a.status}`, message: `The ${what} answered HTTP ${a.status}.`, permanent: [400, 401, 403, 404, 410].includes(a.status) };
}

