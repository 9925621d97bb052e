import { createHash } from 'node:crypto';
import { z } from 'zod';
import { COMPONENTS_PATH, componentNameOf } from '../common/openapi';
import type { TestDriveType } from '../test-drives/test-drive-type';
import { leadsConfigSchema } from '../leads/lead-destination';
import { escalationConfigSchema } from '../escalation/escalation-config';

/** Partner Center: offer ID is lowercase letters, digits, '-' and '_', no whitespace, at most 50 characters. */
export const OFFER_ID_PATTERN = /^[a-z0-9_-]{1,50}$/;
/** Partner Center: offer alias / name at most 50 characters. */
export const OFFER_ALIAS_MAX_CHARS = 50;

/** Common part of PUT /offers/{id}; `testDrive` and `deployment` are checked further by the type. */
export const putOfferBodySchema = z.strictObject(
  {
    alias: z
      .string({ message: 'alias must be a string' })
      .min(1, 'alias must not be empty')
      .max(OFFER_ALIAS_MAX_CHARS, `alias must be at most ${OFFER_ALIAS_MAX_CHARS} characters (Partner Center limit)`)
      .refine((s) => s.trim().length > 0, 'alias must not be blank')
      .meta({ description: `Offer alias (Partner Center name), 1-${OFFER_ALIAS_MAX_CHARS} characters.`, example: 'Contoso CRM demo' }),
    testDrive: z.looseObject(
      { type: z.string({ message: 'testDrive.type must be a string naming the test drive type, e.g. "azure-resource-manager"' }) },
      { message: 'testDrive must be an object with a "type"' },
    ),
    deployment: z.record(z.string(), z.unknown(), { message: 'deployment must be an object' }).optional(),
    leads: leadsConfigSchema.optional(),
    escalation: escalationConfigSchema.nullable().optional(),
  },
  { message: 'The body must be a JSON object {alias, testDrive, deployment, leads, escalation}' },
);
export type PutOfferBody = z.infer<typeof putOfferBodySchema>;

/**
 * Key Vault secret name of an offer's client secret: `offer-<offerId>-client-secret`, with '_'
 * replaced by '-' (Key Vault names allow only 0-9 a-z A-Z '-'); when that replacement happened a
 * short hash of the real id is added so `a_b` and `a-b` never share a secret. At most 83 characters.
 */
export function clientSecretNameFor(offerId: string): string {
  const safe = offerId.replace(/[^0-9a-zA-Z-]/g, '-');
  const suffix = safe === offerId ? '' : `-${createHash('sha256').update(offerId).digest('hex').slice(0, 8)}`;
  return `offer-${safe}${suffix}-client-secret`;
}

/** The offerId path parameter: the Partner Center offer ID (OFFER_ID_PATTERN). */
export const offerIdParamSchema = z
  .string()
  .regex(OFFER_ID_PATTERN)
  .meta({ description: 'Partner Center offer ID: lowercase letters, digits, "-" and "_", at most 50 characters; cannot change.', example: 'contoso-crm' });

/** One problem or warning of an offer health check. */
const healthFindingSchema = z.object({ code: z.string(), message: z.string(), target: z.string().optional() });

/** Offer health: the last check of the offer against the publisher's environment (types with checkHealth, e.g. Dynamics 365). */
export const offerHealthSchema = z
  .looseObject({
    status: z.enum(['healthy', 'degraded']).meta({ description: 'degraded: the last check found problems (e.g. an expired client secret).' }),
    problems: z.array(healthFindingSchema).meta({ description: 'What breaks test drives, each naming the field to fix.' }),
    warnings: z.array(healthFindingSchema).meta({ description: 'What may limit them (e.g. fewer free licenses than maxConcurrent).' }),
    checkedAt: z.string().meta({ description: 'ISO time of the check.' }),
  })
  .meta({ description: "The last check against the publisher's environment; types add their facts (Dynamics 365: licenses)." });

/** `deployment` of an offer view: the deployment details without the client secret. */
const deploymentViewSchema = z
  .object({
    subscriptionId: z.string().optional().meta({ description: 'ARM, Logic app.', example: '00000000-0000-0000-0000-000000000001' }),
    tenantId: z.string().optional().meta({ description: 'All types but Power BI.', example: '00000000-0000-0000-0000-000000000002' }),
    tenantName: z.string().optional().meta({ description: 'Dynamics 365.', example: 'contoso.onmicrosoft.com' }),
    clientId: z.string().optional().meta({ description: 'All types but Power BI.', example: '00000000-0000-0000-0000-000000000003' }),
    clientSecretSet: z.boolean().meta({ description: 'Whether a client secret is stored (it is never returned).', example: true }),
  })
  .meta({ description: 'Deployment details as stored (GUIDs lower case), without the client secret.' });

/**
 * The JSON shape of an offer in responses (ISO times; never a secret), as the service builds it:
 * `testDrive` is the type's stored (normalised) configuration, `packageRevision` and other type
 * fields come from TestDriveType.offerViewExtras. The API description refines it per registered type
 * (offerApiComponents).
 */
export const offerViewSchema = z.object({
  id: z.string().meta({ example: 'contoso-crm' }),
  alias: z.string().meta({ example: 'Contoso CRM demo' }),
  state: z.enum(['draft', 'published', 'unpublished']).meta({ description: 'draft until published; unpublished: no new sessions.' }),
  testDrive: z.looseObject({ type: z.string() }),
  deployment: z.looseObject({ clientSecretSet: z.boolean() }),
  packageRevision: z.record(z.string(), z.unknown()).nullable().meta({ description: 'Types with packages (ARM): the current revision; null otherwise.' }),
  publishedAt: z.string().nullable().meta({ description: 'ISO 8601 UTC, or null when never published.', example: null }),
  createdAt: z.string().meta({ example: '2026-01-01T00:00:00.000Z' }),
  updatedAt: z.string().meta({ example: '2026-01-01T00:00:00.000Z' }),
  /** Lead destination (without its secret) and contact; null when none is configured (issue 10). */
  leads: z
    .object({
      destination: z.looseObject({ type: z.enum(['https-endpoint', 'azure-table', 'dynamics-365']), secretSet: z.boolean() }).nullable(),
      contactEmail: z.string().optional(),
      lastTestLead: z.object({ at: z.string(), delivered: z.boolean(), message: z.string().optional() }).optional(),
    })
    .nullable()
    .optional()
    .meta({ description: 'Where leads go (secrets never returned) and how the last test lead fared.' }),
  /** Escalation e-mails and webhook (its secret never returned); null when none (issue 11). */
  escalation: z
    .object({ emails: z.array(z.string()), webhookUrl: z.string().nullable(), webhookSecretSet: z.boolean() })
    .nullable()
    .optional()
    .meta({ description: 'Who hears about incidents of this offer (e-mails, signed webhook); the webhook secret is never returned.' }),
  /** Last check against the publisher's environment (types with checkHealth, e.g. Dynamics 365); absent otherwise. */
  health: offerHealthSchema.optional(),
  /** Publish response only: what the checks warn about (e.g. fewer free licenses than maxConcurrent). */
  warnings: z.array(healthFindingSchema).optional().meta({ description: 'POST /publish only: what the checks warn about (e.g. fewer free licenses than maxConcurrent).' }),
});

/** The JSON shape of an offer in responses (ISO times; never a secret). */
export type OfferView = z.infer<typeof offerViewSchema>;

/** "azure-resource-manager" -> "AzureResourceManager": a type's wire name as a component name part. */
function pascal(name: string): string {
  return name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join('');
}

/** The `example` in a schema's zod metadata, if any. */
function exampleOf(schema: z.ZodType | undefined): unknown {
  return schema ? (schema.meta() as { example?: unknown } | undefined)?.example : undefined;
}

/** `deployment` of a type that takes none (Power BI). */
const noDeploymentSchema = z.strictObject({}).optional().meta({ description: 'This type takes no deployment details: leave deployment out (an empty object is accepted).' });

/**
 * The OpenAPI components of the offers API that depend on the registered test drive types (issue 9),
 * built from the zod schemas each type validates with (TestDriveType.schemas), name -> schema:
 * - `<Type>TestDrive` (and `<Type>Deployment` unless shared, e.g. AzureDeployment) per type;
 * - `TestDrive`: the union of the types' testDrive sections, discriminated by `type`;
 * - `Put<Type>Offer` per type and `PutOfferBody`: exactly one of them, chosen by `testDrive.type`
 *   (common fields from putOfferBodySchema; the type's sections as its validator parses them);
 * - `OfferView` / `OfferList`: the offer view with that union and the types' extra fields.
 * A type without schemas is documented as an object with its `type` only.
 */
export function offerApiComponents(types: readonly TestDriveType[]): Record<string, z.ZodType> {
  const out: Record<string, z.ZodType> = {};
  const testDrives: z.ZodObject[] = [];
  const bodies: z.ZodType[] = [];
  const mapping: Record<string, string> = {};
  const extras: Record<string, z.ZodType> = {};
  let viewExample: Record<string, unknown> | undefined;
  for (const t of types) {
    const name = pascal(t.type);
    const testDrive = t.schemas?.testDrive ?? z.looseObject({ type: z.literal(t.type) }).meta({ description: `A '${t.type}' test drive.` });
    const deployment = t.schemas?.deployment;
    out[`${name}TestDrive`] = testDrive;
    testDrives.push(testDrive);
    mapping[t.type] = `${COMPONENTS_PATH}${name}TestDrive`;
    if (deployment && !componentNameOf(deployment)) out[`${name}Deployment`] = deployment;
    const tdExample = exampleOf(testDrive);
    const depExample = exampleOf(deployment);
    const example = tdExample === undefined ? undefined : { alias: 'Contoso CRM demo', testDrive: tdExample, ...(depExample !== undefined ? { deployment: depExample } : {}) };
    const body = z
      .strictObject({
        alias: putOfferBodySchema.shape.alias,
        testDrive,
        deployment: deployment ?? noDeploymentSchema,
        leads: putOfferBodySchema.shape.leads,
        escalation: putOfferBodySchema.shape.escalation,
      })
      .meta({ description: `Test drive type '${t.type}': body of PUT /offers/{offerId}`, ...(example ? { example } : {}) });
    out[`Put${name}Offer`] = body;
    bodies.push(body);
    for (const [field, schema] of Object.entries(t.schemas?.offerView ?? {})) extras[field] ??= schema;
    if (!viewExample && tdExample !== undefined) {
      const { clientSecret: _secret, ...dep } = (depExample ?? {}) as Record<string, unknown>;
      void _secret;
      viewExample = {
        id: 'contoso-crm',
        alias: 'Contoso CRM demo',
        state: 'draft',
        testDrive: tdExample,
        deployment: { ...dep, clientSecretSet: depExample !== undefined },
        packageRevision: null,
        publishedAt: null,
        createdAt: '2026-01-01T00:00:00.000Z',
        updatedAt: '2026-01-01T00:00:00.000Z',
      };
    }
  }
  if (!testDrives.length) return {};
  out.TestDrive = z
    .discriminatedUnion('type', testDrives as [z.ZodObject, ...z.ZodObject[]])
    .meta({
      description: `The test drive configuration; \`type\` (${types.map((t) => t.type).join(', ')}) decides the other fields.`,
      discriminator: { propertyName: 'type', mapping },
    });
  out.PutOfferBody = z.xor(bodies as [z.ZodType, ...z.ZodType[]]).meta({
    description:
      'Offer with its test drive configuration: exactly one of the shapes below, chosen by `testDrive.type`. ' +
      'Unknown fields are refused; every problem is reported at once (400 ValidationFailed naming each field path and rule).',
  });
  const base = offerViewSchema.shape;
  const viewExtras: Record<string, z.ZodType> = {};
  for (const [field, schema] of Object.entries(extras)) viewExtras[field] = field in base ? schema : schema.optional();
  out.OfferView = offerViewSchema
    .extend({ testDrive: out.TestDrive, deployment: deploymentViewSchema, ...viewExtras })
    .meta({ description: 'An offer as the API returns it (never a secret). ETag header: its version.', ...(viewExample ? { example: viewExample } : {}) });
  out.OfferList = z
    .object({
      value: z.array(out.OfferView),
      nextAfter: z.string().nullable().meta({ description: 'Pass as `after` for the next page (the last offer ID of this one); null at the end.' }),
    })
    .meta({ description: 'A page of the offers the caller may read, by offer ID.', ...(viewExample ? { example: { value: [viewExample], nextAfter: null } } : {}) });
  return out;
}
