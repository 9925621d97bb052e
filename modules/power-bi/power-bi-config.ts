import { z } from 'zod';
import { ErrorDetail } from '../../src/common/api-error';
import { durationHoursSchema } from '../../src/common/validation';
import type { OfferDeployment } from '../../src/offers/offer.entity';
import { accessInformationSchema, descriptionSchema, MAX_ACCESS_INFORMATION_CHARS, MAX_DESCRIPTION_CHARS, validateTestDriveConfig } from '../../src/test-drives/config-schemas';
import type { ValidatedTestDriveConfig } from '../../src/test-drives/test-drive-type';
import { NOT_URL_CHARACTERS, POWER_BI_SERVICE_HOSTS } from '../../src/security/outbound-url';

/** Wire name of the Power BI test drive type. */
export const POWER_BI_TEST_DRIVE_TYPE = 'power-bi' as const;

/**
 * Hosts of the Power BI service an embed link may point to, public and sovereign clouds (Microsoft
 * Learn, "Embed content in your app for national clouds": embedUrlBase per cloud; "Power BI for US
 * government customers": sign-in URLs). The list lives in the core (src/security/outbound-url.ts,
 * POWER_BI_SERVICE_HOSTS) because the access information sanitiser allows iframes of these hosts only.
 */
export const POWER_BI_HOSTS: ReadonlyArray<{ host: string; cloud: string }> = POWER_BI_SERVICE_HOSTS;

/** Ours: embed links are at most 2,048 characters (what browsers and Partner Center handle comfortably). */
export const POWER_BI_MAX_URL_CHARS = 2048;
/** Partner Center: test drive description up to 3,000 characters. */
export const POWER_BI_MAX_DESCRIPTION_CHARS = MAX_DESCRIPTION_CHARS;
/** Partner Center: access information up to 10,000 characters. */
export const POWER_BI_MAX_ACCESS_INFORMATION_CHARS = MAX_ACCESS_INFORMATION_CHARS;
/** Ours: a Power BI test drive lasts one hour unless configured. */
export const POWER_BI_DEFAULT_DURATION_HOURS = 1;
/** Access information used when the publisher gives none: the link, with `{{embedUrl}}` filled per session. */
export const POWER_BI_DEFAULT_ACCESS_INFORMATION = '<p>Open the dashboard: <a href="{{embedUrl}}" target="_blank" rel="noopener noreferrer">{{embedUrl}}</a></p>';

/** Normalised settings of a Power BI test drive (stored as offer.testDrive). */
export interface PowerBiTestDriveConfig {
  type: 'power-bi';
  /** https link on one of POWER_BI_HOSTS (an embed, "publish to web" or report link), normalised (`new URL(x).href`). */
  embedUrl: string;
  /** Whole hours, 1-99; default 1. */
  durationHours: number;
  description?: string;
  /** Access information with `{{embedUrl}}`; POWER_BI_DEFAULT_ACCESS_INFORMATION when not given. */
  accessInformation: string;
}

const accepted = () => POWER_BI_HOSTS.map((h) => `${h.host} (${h.cloud})`).join(', ');

/**
 * Problem with an embed URL, or undefined when it is an https URL on a Power BI host typed with URL
 * characters only (no space, quote, angle bracket, backslash, backtick or control character: issue 8,
 * `"` and `<>` broke out of the access information link).
 */
export function embedUrlProblem(value: string): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return `embedUrl must be an absolute https URL on a Power BI host. Accepted hosts: ${accepted()}.`;
  }
  if (NOT_URL_CHARACTERS.test(value)) {
    return 'embedUrl must not contain spaces, quotes ("), angle brackets (< >), backslashes, backticks or control characters: they are not valid in a URL as typed (RFC 3986); percent-encode them.';
  }
  if (u.protocol !== 'https:') return `embedUrl must use https (got ${u.protocol.replace(/:$/, '')}). Accepted hosts: ${accepted()}.`;
  if (u.username || u.password) return 'embedUrl must not contain a user name or password.';
  if (u.port && u.port !== '443') return `embedUrl must not name a port. Accepted hosts: ${accepted()}.`;
  const host = u.hostname.toLowerCase().replace(/\.$/, '');
  if (!POWER_BI_HOSTS.some((h) => h.host === host)) return `embedUrl host '${host}' is not a Power BI host. Accepted hosts: ${accepted()}.`;
  return undefined;
}

/**
 * The `testDrive` section of a Power BI test drive as validatePowerBiConfig parses it; also its API
 * description. (Power BI takes no `deployment`.)
 */
export const powerBiTestDriveSchema = z
  .strictObject({
    type: z.literal(POWER_BI_TEST_DRIVE_TYPE),
    embedUrl: z
      .string({ message: `embedUrl must be a string: an https link on a Power BI host (${POWER_BI_HOSTS.map((h) => h.host).join(', ')})` })
      .trim()
      .min(1, 'embedUrl must not be empty')
      .max(POWER_BI_MAX_URL_CHARS, `embedUrl must be at most ${POWER_BI_MAX_URL_CHARS} characters`)
      .superRefine((v, ctx) => {
        const p = v ? embedUrlProblem(v) : undefined;
        if (p) ctx.addIssue({ code: 'custom', message: p });
      })
      .meta({
        description:
          `https link on a Power BI host (an embed, "publish to web" or report link; ${POWER_BI_HOSTS.map((h) => h.host).join(', ')}), without credentials or port, ` +
          'URL characters only; stored normalised.',
        example: 'https://app.powerbi.com/view?r=eyJrIjoiY29udG9zbyJ9',
      }),
    durationHours: durationHoursSchema.optional().meta({ description: `Whole hours, 1-99; default ${POWER_BI_DEFAULT_DURATION_HOURS}.`, example: 1 }),
    description: descriptionSchema,
    accessInformation: accessInformationSchema.meta({
      description: `Access information with {{embedUrl}}; at most ${POWER_BI_MAX_ACCESS_INFORMATION_CHARS} characters, sanitised on save. Default: ${POWER_BI_DEFAULT_ACCESS_INFORMATION}`,
      example: POWER_BI_DEFAULT_ACCESS_INFORMATION,
    }),
  })
  .meta({
    description: 'Power BI test drive: each session gets the link of an embedded dashboard. Needs no deployment section.',
    example: { type: POWER_BI_TEST_DRIVE_TYPE, embedUrl: 'https://app.powerbi.com/view?r=eyJrIjoiY29udG9zbyJ9', durationHours: 1 },
  });

/**
 * Validates the `testDrive` section of PUT /offers/{id} for a Power BI test drive (test drive rules:
 * "embedded Power BI URL only"): embedUrl an https URL (<= 2,048 characters, no credentials or port,
 * only characters valid in a URL as typed) whose host is one of POWER_BI_HOSTS, stored normalised
 * (`new URL(x).href`: host lower case, default port dropped); durationHours whole 1-99, default 1; description <= 3,000 and
 * accessInformation <= 10,000 characters (Partner Center), default POWER_BI_DEFAULT_ACCESS_INFORMATION.
 * A Power BI test drive needs no deployment details: a non-empty `deployment` is refused.
 * @returns the normalised config (needsClientSecret false), or every problem with its field path.
 */
export function validatePowerBiConfig(testDrive: Record<string, unknown>, deployment: Record<string, unknown> | undefined): ValidatedTestDriveConfig | ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  if (deployment !== undefined && deployment !== null && Object.keys(deployment).length > 0) {
    problems.push({ code: 'UnknownField', target: 'deployment', message: 'A Power BI test drive needs no deployment details (no subscription, app registration or secret): leave deployment out.' });
  }
  return validateTestDriveConfig(
    { testDrive: { schema: powerBiTestDriveSchema, input: testDrive }, crossChecks: problems },
    ({ testDrive: t }) => ({
      testDrive: {
        type: POWER_BI_TEST_DRIVE_TYPE,
        embedUrl: new URL(t.embedUrl).href,
        durationHours: t.durationHours ?? POWER_BI_DEFAULT_DURATION_HOURS,
        ...(t.description !== undefined ? { description: t.description } : {}),
        accessInformation: t.accessInformation ?? POWER_BI_DEFAULT_ACCESS_INFORMATION,
      } satisfies PowerBiTestDriveConfig,
      deployment: {} as OfferDeployment,
    }),
    false,
  );
}

/** Reads an offer's stored testDrive as a PowerBiTestDriveConfig. */
export function powerBiConfigOf(testDrive: Record<string, unknown>): PowerBiTestDriveConfig {
  return testDrive as unknown as PowerBiTestDriveConfig;
}
