import { z } from 'zod';
import { ErrorDetail } from '../../src/common/api-error';
import { durationHoursSchema, guidSchema } from '../../src/common/validation';
import { accessInformationSchema, CLIENT_SECRET_MAX_CHARS, clientSecretSchema, descriptionSchema, MAX_ACCESS_INFORMATION_CHARS, MAX_DESCRIPTION_CHARS, validateTestDriveConfig } from '../../src/test-drives/config-schemas';
import type { ValidatedTestDriveConfig } from '../../src/test-drives/test-drive-type';
import { DYNAMICS_365_ENDPOINTS, OutboundUrl, OutboundUrlPolicy, outboundUrlProblem, STRICT_OUTBOUND_POLICY } from '../../src/security/outbound-url';

/** Wire name of the hosted Dynamics 365 test drive type. */
export const DYNAMICS_TEST_DRIVE_TYPE = 'dynamics-365' as const;

/** The Dynamics 365 products a hosted test drive can target (Partner Center: Business Central, Customer Engagement, Operations). */
export const DYNAMICS_PRODUCTS = ['customer-engagement', 'business-central', 'operations'] as const;
export type DynamicsProduct = (typeof DYNAMICS_PRODUCTS)[number];

/** Ours: at most 99 concurrent test drives (Partner Center recommends 3-5 for Dynamics 365). */
export const DYNAMICS_MAX_CONCURRENT = 99;
/** Partner Center: test drive description up to 3,000 characters. */
export const DYNAMICS_MAX_DESCRIPTION_CHARS = MAX_DESCRIPTION_CHARS;
/** Partner Center: access information up to 10,000 characters. */
export const DYNAMICS_MAX_ACCESS_INFORMATION_CHARS = MAX_ACCESS_INFORMATION_CHARS;
/** Ours: Azure client secrets are at most a few hundred characters; 1024 leaves room (as ARM). */
export { CLIENT_SECRET_MAX_CHARS };
/** Dataverse: a security role's name is at most 100 characters. */
export const ROLE_NAME_MAX_CHARS = 100;

/**
 * Access information used when the publisher gives none: the customer sees where to go and how to sign in.
 * Placeholders are the session outputs of this type: instanceUrl, userName, password.
 */
export const DEFAULT_ACCESS_INFORMATION = '<p>Open <a href="{{instanceUrl}}">{{instanceUrl}}</a> and sign in as {{userName}} with password {{password}}.</p>';

/** Normalised settings of a hosted Dynamics 365 test drive (stored as offer.testDrive; never a secret). */
export interface DynamicsTestDriveConfig {
  type: 'dynamics-365';
  product: DynamicsProduct;
  /** Whole hours, 1-99 (Partner Center: whole hours only; recommended 2-24 for Dynamics 365). */
  durationHours: number;
  /** Most sessions at once, 1-99 (Partner Center recommends 3-5); also bounded by free licenses. */
  maxConcurrent: number;
  /** https URL of the Dynamics 365 instance, without trailing "/": where customers go, and the token audience (scope `${instanceUrl}/.default`). */
  instanceUrl: string;
  /** https URL of the product's API, ending in "/" (Customer Engagement: `.../api/data/v9.x/`). */
  instanceWebApiUrl: string;
  /** Customer Engagement: security role name; Operations: the role's AOT name; Business Central: permission set id. */
  roleName: string;
  /** License SKU assigned to each test drive user: its skuPartNumber (e.g. DYN365_ENTERPRISE_PLAN1) or skuId GUID. */
  licenseSku: string;
  /** Operations only: the legal entity (company, DataAreaId) the role is restricted to, upper case. */
  trialLegalEntity?: string;
  description?: string;
  /** Shown to the customer with {{instanceUrl}}, {{userName}}, {{password}} filled in (default DEFAULT_ACCESS_INFORMATION). */
  accessInformation: string;
}

/** Deployment details of a Dynamics 365 test drive, without the client secret. */
export interface DynamicsDeployment {
  tenantId: string;
  /** The publisher's tenant domain, `name.onmicrosoft.com` (lower case): test drive users are created under it. */
  tenantName: string;
  clientId: string;
}

/**
 * An instance / API URL of the publisher's Dynamics 365 environment: an absolute https URL without query,
 * fragment or credentials, and (issue 8, outbound URL rule, src/security/outbound-url.ts) typed with URL
 * characters only, its host a DNS name (no IP literal in any spelling, no localhost), port 443, on a
 * Dynamics 365 domain (DYNAMICS_365_ENDPOINTS: *.dynamics.com, sovereign clouds). `policy` exempts the
 * local emulator's origin in the emulated runtime.
 */
const httpsUrl = (what: string, policy: OutboundUrlPolicy) =>
  z
    .string({ message: `${what} must be a string (an https URL)` })
    .min(1, `${what} must not be empty`)
    .max(2000, `${what} must be at most 2000 characters`)
    .superRefine((s, ctx) => {
      let u: URL;
      try {
        u = new URL(s);
      } catch {
        ctx.addIssue({ code: 'custom', message: `${what} must be an absolute URL, e.g. https://contoso.crm.dynamics.com` });
        return;
      }
      if (u.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `${what} must use https` });
      if (u.search || u.hash) ctx.addIssue({ code: 'custom', message: `${what} must not have a query or fragment` });
      if (u.username || u.password) ctx.addIssue({ code: 'custom', message: `${what} must not contain credentials` });
      if (u.protocol === 'https:' && !u.username && !u.password) {
        const why = outboundUrlProblem(s, DYNAMICS_365_ENDPOINTS, policy);
        if (why) ctx.addIssue({ code: 'custom', message: `${what} ${why}` });
      }
    });

/** Customer Engagement Web API: `https://<org>.crm.dynamics.com/api/data/v9.x` (Dataverse Web API v9.0-v9.2). */
export const CE_WEB_API_PATTERN = /\/api\/data\/v9\.\d+\/?$/i;
/** `name.onmicrosoft.com` (Entra ID initial domain: 1-27 characters of letters and digits before .onmicrosoft.com). */
export const TENANT_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,26}\.onmicrosoft\.com$/i;
/** Operations AOT role names: letters, digits and "_" (e.g. LEDGERACCOUNTANT, SYSTEMUSER). */
const AOT_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,80}$/;
/** F&O legal entity (DataAreaId): 1-4 letters or digits. */
const LEGAL_ENTITY_PATTERN = /^[A-Za-z0-9]{1,4}$/;
/** skuPartNumber (e.g. DYN365_ENTERPRISE_PLAN1) or skuId GUID. */
const SKU_PATTERN = /^([A-Za-z0-9][A-Za-z0-9_.+-]{0,99}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;

const testDriveSchemaFor = (policy: OutboundUrlPolicy) =>
  z
    .strictObject({
      type: z.literal(DYNAMICS_TEST_DRIVE_TYPE),
      product: z
        .enum(DYNAMICS_PRODUCTS, { message: `product must be one of ${DYNAMICS_PRODUCTS.join(', ')}` })
        .meta({ description: 'The Dynamics 365 product of the environment (Partner Center: Customer Engagement, Business Central, Operations).', example: 'customer-engagement' }),
      durationHours: durationHoursSchema.meta({ description: 'Whole hours, 1-99 (Partner Center: whole hours only; recommended 2-24 for Dynamics 365).', example: 2 }),
      maxConcurrent: z
        .number({ message: `maxConcurrent must be a whole number 1-${DYNAMICS_MAX_CONCURRENT}` })
        .int('maxConcurrent must be a whole number (Partner Center recommends 3-5 for Dynamics 365)')
        .min(1, 'maxConcurrent must be at least 1')
        .max(DYNAMICS_MAX_CONCURRENT, `maxConcurrent must be at most ${DYNAMICS_MAX_CONCURRENT}`)
        .meta({ description: `Most sessions at once, 1-${DYNAMICS_MAX_CONCURRENT} (Partner Center recommends 3-5); also bounded by the free licenses.`, example: 3 }),
      instanceUrl: httpsUrl('instanceUrl', policy).meta({
        description:
          'https URL of the Dynamics 365 instance, on a Dynamics 365 domain (*.dynamics.com, sovereign clouds), without query, fragment or credentials: ' +
          'where customers go, and the token audience. Stored without a trailing "/".',
        example: 'https://contoso.crm.dynamics.com',
      }),
      instanceWebApiUrl: httpsUrl('instanceWebApiUrl', policy).meta({
        description: "https URL of the product's API (Customer Engagement: ending in /api/data/v9.x). Stored with a trailing \"/\".",
        example: 'https://contoso.api.crm.dynamics.com/api/data/v9.2',
      }),
      roleName: z
        .string({ message: 'roleName must be a string' })
        .trim()
        .min(1, 'roleName must not be empty')
        .max(ROLE_NAME_MAX_CHARS, `roleName must be at most ${ROLE_NAME_MAX_CHARS} characters`)
        .meta({
          description: "Customer Engagement: security role name; Operations: the role's AOT name (letters, digits, _); Business Central: permission set id. Given to each test drive user.",
          example: 'Salesperson',
        }),
      licenseSku: z
        .string({ message: 'licenseSku must be a string: the SKU part number (e.g. DYN365_ENTERPRISE_PLAN1) or skuId GUID' })
        .trim()
        .regex(SKU_PATTERN, 'licenseSku must be a SKU part number (e.g. DYN365_ENTERPRISE_PLAN1) or a skuId GUID')
        .meta({ description: 'License assigned to each test drive user: its skuPartNumber or skuId GUID.', example: 'DYN365_ENTERPRISE_PLAN1' }),
      trialLegalEntity: z
        .string({ message: 'trialLegalEntity must be a string (a legal entity id such as "USMF")' })
        .trim()
        .regex(LEGAL_ENTITY_PATTERN, 'trialLegalEntity must be a legal entity id of 1-4 letters or digits, e.g. "USMF"')
        .optional()
        .meta({ description: 'Operations only (required there): the legal entity (company, DataAreaId) the role is restricted to; stored upper case.', example: 'USMF' }),
      description: descriptionSchema,
      accessInformation: accessInformationSchema.meta({
        description:
          `Shown to the customer with {{instanceUrl}}, {{userName}} and {{password}} filled in; at most ${DYNAMICS_MAX_ACCESS_INFORMATION_CHARS} characters, sanitised on save. ` +
          `Default: ${DEFAULT_ACCESS_INFORMATION}`,
        example: DEFAULT_ACCESS_INFORMATION,
      }),
    })
    .meta({
      description:
        "Hosted Dynamics 365 test drive: each session gets a temporary licensed user with the publisher's security role in the publisher's environment. " +
        'Deployment: the Dynamics365Deployment section.',
      example: {
        type: DYNAMICS_TEST_DRIVE_TYPE,
        product: 'customer-engagement',
        durationHours: 2,
        maxConcurrent: 3,
        instanceUrl: 'https://contoso.crm.dynamics.com',
        instanceWebApiUrl: 'https://contoso.api.crm.dynamics.com/api/data/v9.2',
        roleName: 'Salesperson',
        licenseSku: 'DYN365_ENTERPRISE_PLAN1',
      },
    });

/** The testDrive schema per outbound URL policy (one for real Azure, one per emulator). */
const testDriveSchemas = new WeakMap<OutboundUrlPolicy, ReturnType<typeof testDriveSchemaFor>>();
function testDriveSchemaOf(policy: OutboundUrlPolicy): ReturnType<typeof testDriveSchemaFor> {
  let schema = testDriveSchemas.get(policy);
  if (!schema) testDriveSchemas.set(policy, (schema = testDriveSchemaFor(policy)));
  return schema;
}

/**
 * The `testDrive` section of a Dynamics 365 test drive as validateDynamicsConfig parses it against real
 * Azure (the strict outbound URL policy; an emulated runtime uses a copy exempting the emulator); also
 * its API description.
 */
export const dynamicsTestDriveSchema = testDriveSchemaOf(STRICT_OUTBOUND_POLICY);

/** The `deployment` section of a Dynamics 365 test drive as validateDynamicsConfig parses it; also its API description. */
export const dynamicsDeploymentSchema = z
  .strictObject(
    {
      tenantId: guidSchema('tenantId').meta({ description: "The publisher's Entra ID tenant (of the app registration and the environment).", example: '00000000-0000-0000-0000-000000000002' }),
      tenantName: z
        .string({ message: 'tenantName must be a string like contoso.onmicrosoft.com' })
        .trim()
        .regex(TENANT_NAME_PATTERN, 'tenantName must be the tenant\'s initial domain, like contoso.onmicrosoft.com')
        .meta({ description: "The tenant's initial domain, name.onmicrosoft.com: test drive users are created under it.", example: 'contoso.onmicrosoft.com' }),
      clientId: guidSchema('clientId').meta({ description: 'Application (client) ID of the app registration (an application user of the environment).', example: '00000000-0000-0000-0000-000000000003' }),
      clientSecret: clientSecretSchema,
    },
    { message: 'deployment must be an object {tenantId, tenantName, clientId, clientSecret}' },
  )
  .meta({
    description: "The publisher's tenant and the app registration that creates and licenses test drive users (Dynamics 365).",
    example: { tenantId: '00000000-0000-0000-0000-000000000002', tenantName: 'contoso.onmicrosoft.com', clientId: '00000000-0000-0000-0000-000000000003', clientSecret: 'app-client-secret' },
  });

/**
 * Validates the `testDrive` and `deployment` sections of PUT /offers/{id} for a hosted Dynamics 365 test drive.
 *
 * Rules: product one of customer-engagement | business-central | operations; durationHours whole hours
 * 1-99 (Partner Center: whole hours only); maxConcurrent whole number 1-99 (Partner Center recommends
 * 3-5); instanceUrl and instanceWebApiUrl absolute https URLs without query, fragment or credentials,
 * on a Dynamics 365 host (issue 8, outbound URL rule: a DNS name under DYNAMICS_365_ENDPOINTS' domains,
 * no IP literal or localhost, port 443, URL characters only; `opts.outboundPolicy` exempts the local
 * emulator's origin in the emulated runtime; the DNS check is dynamicsOutboundUrls + the core, async);
 * for Customer Engagement the Web API URL ends in `/api/data/v9.x` (Dataverse Web API); roleName
 * 1-100 characters (Operations: an AOT name, letters/digits/_); licenseSku a SKU part number or skuId
 * GUID; trialLegalEntity required for Operations (1-4 letters/digits) and refused for the other products;
 * description <= 3,000 and accessInformation <= 10,000 characters (Partner Center). Deployment: tenantId
 * and clientId GUIDs, tenantName `name.onmicrosoft.com`, clientSecret 1-1024 characters (optional here:
 * the offers service requires it on create). Unknown fields are refused.
 *
 * @returns the normalised config (URLs: instanceUrl without and instanceWebApiUrl with a trailing "/";
 *   GUIDs and tenantName lower case; legal entity upper case; default access information), or every
 *   problem found, each with its full field path ("testDrive.instanceWebApiUrl", "deployment.tenantName").
 */
export function validateDynamicsConfig(
  testDrive: Record<string, unknown>,
  deployment: Record<string, unknown> | undefined,
  opts: { outboundPolicy?: OutboundUrlPolicy } = {},
): ValidatedTestDriveConfig | ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const product = typeof testDrive?.product === 'string' ? testDrive.product : undefined;
  const webApi = testDrive?.instanceWebApiUrl;
  if (product === 'customer-engagement' && typeof webApi === 'string' && /^https:\/\//i.test(webApi) && !CE_WEB_API_PATTERN.test(safePath(webApi))) {
    problems.push({
      code: 'InvalidField',
      target: 'testDrive.instanceWebApiUrl',
      message: 'For Customer Engagement the Web API URL must end in /api/data/v9.x, e.g. https://contoso.crm.dynamics.com/api/data/v9.2',
    });
  }
  if (product === 'operations' && (testDrive?.trialLegalEntity === undefined || testDrive?.trialLegalEntity === null)) {
    problems.push({ code: 'InvalidField', target: 'testDrive.trialLegalEntity', message: 'Required for Operations: the legal entity (e.g. "USMF") the role is restricted to.' });
  }
  if (product && product !== 'operations' && testDrive?.trialLegalEntity !== undefined) {
    problems.push({ code: 'InvalidField', target: 'testDrive.trialLegalEntity', message: 'Only Operations test drives have a trial legal entity.' });
  }
  if (product === 'operations' && typeof testDrive?.roleName === 'string' && testDrive.roleName.trim() && !AOT_NAME_PATTERN.test(testDrive.roleName.trim())) {
    problems.push({ code: 'InvalidField', target: 'testDrive.roleName', message: 'For Operations roleName is the role\'s AOT name (letters, digits and "_"), e.g. LEDGERACCOUNTANT.' });
  }
  return validateTestDriveConfig(
    {
      testDrive: { schema: testDriveSchemaOf(opts.outboundPolicy ?? STRICT_OUTBOUND_POLICY), input: testDrive },
      crossChecks: problems,
      deployment: { schema: dynamicsDeploymentSchema, input: deployment, requiredMessage: 'Required: {tenantId, tenantName, clientId, clientSecret}.' },
    },
    ({ testDrive: t, deployment: dep }) => ({
      testDrive: {
        type: DYNAMICS_TEST_DRIVE_TYPE,
        product: t.product,
        durationHours: t.durationHours,
        maxConcurrent: t.maxConcurrent,
        instanceUrl: t.instanceUrl.replace(/\/+$/, ''),
        instanceWebApiUrl: t.instanceWebApiUrl.replace(/\/*$/, '/'),
        roleName: t.roleName,
        licenseSku: /^[0-9a-f-]{36}$/i.test(t.licenseSku) ? t.licenseSku.toLowerCase() : t.licenseSku,
        ...(t.trialLegalEntity !== undefined ? { trialLegalEntity: t.trialLegalEntity.toUpperCase() } : {}),
        ...(t.description !== undefined ? { description: t.description } : {}),
        accessInformation: t.accessInformation ?? DEFAULT_ACCESS_INFORMATION,
      } satisfies DynamicsTestDriveConfig,
      deployment: { tenantId: dep.tenantId.toLowerCase(), tenantName: dep.tenantName.toLowerCase(), clientId: dep.clientId.toLowerCase() } satisfies DynamicsDeployment,
    }),
  );
}

function safePath(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/**
 * The URLs of a (validated) Dynamics 365 testDrive the service calls with the publisher's credentials
 * (TestDriveType.outboundUrls): the instance URL (token audience) and the product API URL.
 */
export function dynamicsOutboundUrls(testDrive: Record<string, unknown>): OutboundUrl[] {
  const cfg = dynamicsConfigOf(testDrive);
  return [
    { target: 'testDrive.instanceUrl', url: cfg.instanceUrl, kind: DYNAMICS_365_ENDPOINTS },
    { target: 'testDrive.instanceWebApiUrl', url: cfg.instanceWebApiUrl, kind: DYNAMICS_365_ENDPOINTS },
  ];
}

/** Reads an offer's stored testDrive as a DynamicsTestDriveConfig (stored values were validated on write). */
export function dynamicsConfigOf(testDrive: Record<string, unknown>): DynamicsTestDriveConfig {
  return testDrive as unknown as DynamicsTestDriveConfig;
}

/** The Dataverse Web API version of a Customer Engagement Web API URL ("9.2"), default 9.2. */
export function dataverseVersionOf(instanceWebApiUrl: string): string {
  return /\/api\/data\/v(9\.\d+)\/?$/i.exec(instanceWebApiUrl)?.[1] ?? '9.2';
}
