import { z } from 'zod';
import { ErrorDetail } from '../common/api-error';
import { apiComponent } from '../common/openapi';
import { guidSchema, zodIssuesToDetails } from '../common/validation';
import { isKnownRegion, knownRegions } from '../config/regions';
import type { OfferDeployment } from '../offers/offer.entity';
import { sanitizeAccessHtml } from '../security/access-html';
import type { ValidatedTestDriveConfig } from './test-drive-type';

/** Partner Center: test drive description up to 3,000 characters. */
export const MAX_DESCRIPTION_CHARS = 3000;
/** Partner Center: access information up to 10,000 characters. */
export const MAX_ACCESS_INFORMATION_CHARS = 10000;
/** Ours: Azure client secrets are at most a few hundred characters; 1024 leaves room. */
export const CLIENT_SECRET_MAX_CHARS = 1024;

/** Optional `testDrive.description`; Partner Center: description up to 3,000 characters. */
export const descriptionSchema = z
  .string({ message: 'description must be a string' })
  .max(MAX_DESCRIPTION_CHARS, `description must be at most ${MAX_DESCRIPTION_CHARS} characters (Partner Center limit)`)
  .optional()
  .meta({ description: `Shown to customers before they start; at most ${MAX_DESCRIPTION_CHARS} characters (Partner Center).`, example: 'Try Contoso CRM for two hours.' });

/**
 * Optional `testDrive.accessInformation`; Partner Center: access information up to 10,000 characters.
 * HTML, sanitised on save (issue 8; src/security/access-html.ts: an allow-list of formatting tags, https
 * links, no script, styles or event handlers): the stored text is the sanitised one, `{{placeholders}}`
 * are kept (also in href / src). The limit applies to the text as sent and to the stored text.
 */
export const accessInformationSchema = z
  .string({ message: 'accessInformation must be a string' })
  .max(MAX_ACCESS_INFORMATION_CHARS, `accessInformation must be at most ${MAX_ACCESS_INFORMATION_CHARS} characters (Partner Center limit)`)
  .transform((html) => sanitizeAccessHtml(html))
  .refine((html) => html.length <= MAX_ACCESS_INFORMATION_CHARS, {
    message: `accessInformation must be at most ${MAX_ACCESS_INFORMATION_CHARS} characters once sanitised (Partner Center limit; escapes such as &amp; count)`,
  })
  .optional()
  .meta({
    description:
      `Access information shown to customers, with {{outputName}} placeholders filled per session (HTML recommended); at most ${MAX_ACCESS_INFORMATION_CHARS} characters. ` +
      'Sanitised on save: formatting tags and https links only, no script, styles or event handlers.',
    example: '<p>Open {{siteUrl}} and sign in as {{userName}} / {{password}}.</p>',
  });

/**
 * Optional `deployment.clientSecret`, 1-1024 characters (ours, see CLIENT_SECRET_MAX_CHARS). Optional
 * here: the offers service requires it when an offer is created and keeps the stored one on update.
 */
export const clientSecretSchema = z
  .string({ message: 'clientSecret must be a string' })
  .min(1, 'clientSecret must not be empty')
  .max(CLIENT_SECRET_MAX_CHARS, `clientSecret must be at most ${CLIENT_SECRET_MAX_CHARS} characters`)
  .optional()
  .meta({
    description: 'Client secret of the app registration. Required on create; on update optional (the current one is kept). Stored in Key Vault only, never returned.',
    example: 'app-client-secret',
  });

/**
 * An ARM location name (`what` names the field in messages, e.g. "region" or "region name"): a
 * non-empty string, trimmed and lower-cased, that is one of config/regions.json.
 */
export const knownRegionSchema = (what: string) =>
  z
    .string({ message: `${what} must be a string (an ARM location name such as "westeurope")` })
    .min(1, `${what} must not be empty`)
    .transform((s) => s.trim().toLowerCase())
    .superRefine((name, ctx) => {
      if (name && !isKnownRegion(name)) {
        ctx.addIssue({ code: 'custom', message: `Unknown region '${name}'. Known regions: ${knownRegions().map((k) => k.name).join(', ')}.` });
      }
    });

/**
 * `deployment` of the test drive types that act in the publisher's Azure subscription (ARM, Logic app):
 * subscriptionId, tenantId and clientId GUIDs and an optional clientSecret; unknown fields are refused.
 */
export const azureDeploymentSchema = apiComponent(
  'AzureDeployment',
  z
    .strictObject(
      {
        subscriptionId: guidSchema('subscriptionId').meta({ description: 'The Azure subscription the test drives are deployed in.', example: '00000000-0000-0000-0000-000000000001' }),
        tenantId: guidSchema('tenantId').meta({ description: 'Entra ID tenant of the app registration.', example: '00000000-0000-0000-0000-000000000002' }),
        clientId: guidSchema('clientId').meta({ description: 'Application (client) ID of the app registration that deploys.', example: '00000000-0000-0000-0000-000000000003' }),
        clientSecret: clientSecretSchema,
      },
      { message: 'deployment must be an object {subscriptionId, tenantId, clientId, clientSecret}' },
    )
    .meta({
      description: "Where and as whom the test drives are deployed: the publisher's subscription and app registration (ARM, Logic app).",
      example: {
        subscriptionId: '00000000-0000-0000-0000-000000000001',
        tenantId: '00000000-0000-0000-0000-000000000002',
        clientId: '00000000-0000-0000-0000-000000000003',
        clientSecret: 'app-client-secret',
      },
    }),
);

/** Message of a missing `deployment` for azureDeploymentSchema. */
export const AZURE_DEPLOYMENT_REQUIRED = 'Required: {subscriptionId, tenantId, clientId, clientSecret}.';

/** The GUIDs of a parsed azureDeploymentSchema, lower-cased, without the client secret. */
export function azureDeploymentOf(dep: z.infer<typeof azureDeploymentSchema>): { subscriptionId: string; tenantId: string; clientId: string } {
  return { subscriptionId: dep.subscriptionId.toLowerCase(), tenantId: dep.tenantId.toLowerCase(), clientId: dep.clientId.toLowerCase() };
}

/** What validateTestDriveSections parses: the sections with their schemas, and the type's own problems. */
export interface TestDriveSections<T extends z.ZodType, D extends z.ZodType> {
  testDrive: { schema: T; input: unknown };
  crossChecks?: ErrorDetail[];
  deployment?: { schema: D; input: unknown; requiredMessage: string };
}

/**
 * The skeleton of every type's validateConfig: parses `testDrive` with its schema and (when a
 * deployment schema is given) `deployment` with that one, collecting every problem with its full field
 * path ("testDrive.regions[1].hot", "deployment.tenantId"). `crossChecks` are the type's own problems
 * found on the raw input; they are reported after the testDrive ones and before the deployment ones.
 * A missing deployment (undefined or null) is one problem on `deployment` with `deployment.requiredMessage`.
 *
 * @returns the parsed sections, or every problem found (non-empty).
 */
export function validateTestDriveSections<T extends z.ZodType, D extends z.ZodType = z.ZodUndefined>(sections: TestDriveSections<T, D>): { testDrive: z.output<T>; deployment: z.output<D> } | ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const td = sections.testDrive.schema.safeParse(sections.testDrive.input);
  if (!td.success) problems.push(...zodIssuesToDetails(td.error.issues, 'testDrive'));
  if (sections.crossChecks) problems.push(...sections.crossChecks);
  let dep: { value: z.output<D> } | undefined;
  const d = sections.deployment;
  if (d) {
    if (d.input === undefined || d.input === null) {
      problems.push({ code: 'InvalidField', target: 'deployment', message: d.requiredMessage });
    } else {
      const r = d.schema.safeParse(d.input);
      if (!r.success) problems.push(...zodIssuesToDetails(r.error.issues, 'deployment'));
      else dep = { value: r.data };
    }
  }
  if (problems.length || !td.success || (d && !dep)) return problems;
  return { testDrive: td.data, deployment: dep?.value as z.output<D> };
}

/**
 * A type's validateConfig: validateTestDriveSections, then `build` turns the parsed sections into the
 * stored testDrive settings and the deployment (without the client secret).
 * @returns those and needsClientSecret (all types but Power BI need one), or every problem found.
 */
export function validateTestDriveConfig<T extends z.ZodType, D extends z.ZodType = z.ZodUndefined>(
  sections: TestDriveSections<T, D>,
  build: (parsed: { testDrive: z.output<T>; deployment: z.output<D> }) => { testDrive: object; deployment: OfferDeployment },
  needsClientSecret = true,
): ValidatedTestDriveConfig | ErrorDetail[] {
  const parsed = validateTestDriveSections(sections);
  if (Array.isArray(parsed)) return parsed;
  const { testDrive, deployment } = build(parsed);
  return { testDrive: testDrive as Record<string, unknown>, deployment, needsClientSecret };
}

/** The description and access information of a parsed testDrive section, each only when it was given. */
export function optionalTextsOf(t: { description?: string; accessInformation?: string }): { description?: string; accessInformation?: string } {
  return { ...(t.description !== undefined ? { description: t.description } : {}), ...(t.accessInformation !== undefined ? { accessInformation: t.accessInformation } : {}) };
}
