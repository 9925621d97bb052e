import { z } from 'zod';
import { ErrorDetail } from '../../src/common/api-error';
import { durationHoursSchema } from '../../src/common/validation';
import { accessInformationSchema, AZURE_DEPLOYMENT_REQUIRED, azureDeploymentOf, azureDeploymentSchema, CLIENT_SECRET_MAX_CHARS, descriptionSchema, knownRegionSchema, MAX_ACCESS_INFORMATION_CHARS, MAX_DESCRIPTION_CHARS, optionalTextsOf, validateTestDriveConfig } from '../../src/test-drives/config-schemas';
import type { ValidatedTestDriveConfig } from '../../src/test-drives/test-drive-type';

/** Wire name of the Logic app test drive type. */
export const LOGIC_APP_TEST_DRIVE_TYPE = 'logic-app' as const;

/** Ours: at most 99 sessions at once (like the other per-offer counts). */
export const LOGIC_APP_MAX_CONCURRENT = 99;
/** Partner Center: test drive description up to 3,000 characters. */
export const LOGIC_APP_MAX_DESCRIPTION_CHARS = MAX_DESCRIPTION_CHARS;
/** Partner Center: access information up to 10,000 characters. */
export const LOGIC_APP_MAX_ACCESS_INFORMATION_CHARS = MAX_ACCESS_INFORMATION_CHARS;
/** Ours: Azure client secrets are at most a few hundred characters; 1024 leaves room. */
export const LOGIC_APP_CLIENT_SECRET_MAX_CHARS = CLIENT_SECRET_MAX_CHARS;

/**
 * Azure naming rules (Microsoft.Resources/resourceGroups): 1-90 characters from letters, digits,
 * underscores, hyphens, periods and parentheses; cannot end with a period. (Azure also allows other
 * Unicode letters; we accept ASCII only.)
 */
export const RESOURCE_GROUP_NAME_PATTERN = /^[A-Za-z0-9_\-.()]{1,90}$/;
/** Azure naming rules (Microsoft.Logic/workflows): 1-80 characters from letters, digits, underscores, hyphens, periods and parentheses. */
export const LOGIC_APP_NAME_PATTERN = /^[A-Za-z0-9_\-.()]{1,80}$/;

/** Normalised settings of a Logic app test drive (stored as offer.testDrive; no secret). */
export interface LogicAppTestDriveConfig {
  type: 'logic-app';
  /** The one ARM location of the test drive (config/regions.json; Partner Center: "region (single)"). */
  region: string;
  /** Sessions at once, 1-99; claimed atomically as session slots. */
  maxConcurrent: number;
  /** Whole hours, 1-99 (Partner Center: whole hours only). */
  durationHours: number;
  /** Resource group holding both Logic Apps. */
  resourceGroupName: string;
  /** The provisioning Logic App (Request trigger; contract in docs/logic-app-contract.md). */
  logicAppName: string;
  /** The deprovisioning Logic App (Request trigger). */
  deprovisionLogicAppName: string;
  /** Shown to customers; at most 3,000 characters. */
  description?: string;
  /** Access information with `{{outputName}}` placeholders filled from the provisioning answer; at most 10,000 characters. */
  accessInformation?: string;
}

/** One string field checked against Azure's naming rule; reports the first rule broken only. */
const name = (what: string, pattern: RegExp, max: number, noTrailingDot = false) =>
  z.string({ message: `${what} must be a string` }).superRefine((v, ctx) => {
    const why = !v
      ? `${what} must not be empty`
      : v.length > max
        ? `${what} must be at most ${max} characters (Azure naming rule)`
        : !pattern.test(v)
          ? `${what} may contain only letters, digits, '_', '-', '.', '(' and ')' (Azure naming rule)`
          : noTrailingDot && v.endsWith('.')
            ? `${what} cannot end with '.' (Azure naming rule)`
            : undefined;
    if (why) ctx.addIssue({ code: 'custom', message: why });
  });

/**
 * The `testDrive` section of a Logic app test drive as validateLogicAppConfig parses it (the region is
 * lower-cased and access information sanitised by their transforms); also its API description.
 */
export const logicAppTestDriveSchema = z
  .strictObject({
    type: z.literal(LOGIC_APP_TEST_DRIVE_TYPE),
    region: knownRegionSchema('region').meta({ description: 'The one ARM location of the test drive (config/regions.json; Partner Center: "region (single)").', example: 'westeurope' }),
    maxConcurrent: z
      .number({ message: `maxConcurrent must be a whole number 1-${LOGIC_APP_MAX_CONCURRENT}` })
      .int(`maxConcurrent must be a whole number 1-${LOGIC_APP_MAX_CONCURRENT}`)
      .min(1, 'maxConcurrent must be at least 1')
      .max(LOGIC_APP_MAX_CONCURRENT, `maxConcurrent must be at most ${LOGIC_APP_MAX_CONCURRENT}`)
      .meta({ description: `Sessions at once, 1-${LOGIC_APP_MAX_CONCURRENT}; claimed atomically as session slots.`, example: 5 }),
    durationHours: durationHoursSchema.meta({ description: 'Whole hours, 1-99 (Partner Center: whole hours only).', example: 2 }),
    resourceGroupName: name('resourceGroupName', RESOURCE_GROUP_NAME_PATTERN, 90, true).meta({
      description: "Resource group holding both Logic Apps: 1-90 of letters, digits, '_', '-', '.', '(' and ')', not ending in '.' (Azure naming rule).",
      example: 'contoso-testdrive',
    }),
    logicAppName: name('logicAppName', LOGIC_APP_NAME_PATTERN, 80).meta({
      description: "The provisioning Logic App (Request trigger; contract in docs/logic-app-contract.md): 1-80 of letters, digits, '_', '-', '.', '(' and ')'.",
      example: 'provision-testdrive',
    }),
    deprovisionLogicAppName: name('deprovisionLogicAppName', LOGIC_APP_NAME_PATTERN, 80).meta({
      description: 'The deprovisioning Logic App (Request trigger), called when a session ends; same naming rule.',
      example: 'deprovision-testdrive',
    }),
    description: descriptionSchema,
    accessInformation: accessInformationSchema.meta({
      description: `Access information with {{outputName}} placeholders filled from the provisioning Logic App's answer; at most ${LOGIC_APP_MAX_ACCESS_INFORMATION_CHARS} characters, sanitised on save.`,
      example: '<p>Sign in at {{url}} as {{userName}} / {{password}}.</p>',
    }),
  })
  .superRefine((t, ctx) => {
    // Azure resource names are case-insensitive: "Provision" and "provision" are one Logic App. Names that
    // break the naming rule are reported by it alone.
    const valid = (n: unknown) => typeof n === 'string' && LOGIC_APP_NAME_PATTERN.test(n);
    if (valid(t.logicAppName) && valid(t.deprovisionLogicAppName) && t.deprovisionLogicAppName.toLowerCase() === t.logicAppName.toLowerCase()) {
      ctx.addIssue({
        code: 'custom',
        path: ['deprovisionLogicAppName'],
        message: 'deprovisionLogicAppName must name another Logic App than logicAppName: the provisioning Logic App would be called again when each session ends (Partner Center asks for both).',
      });
    }
  })
  .meta({
    description:
      "Logic app test drive: each session is whatever the publisher's provisioning Logic App returns; the deprovisioning Logic App runs at the end. " +
      'Deployment: the AzureDeployment section (the subscription holding the Logic Apps).',
    example: {
      type: LOGIC_APP_TEST_DRIVE_TYPE,
      region: 'westeurope',
      maxConcurrent: 5,
      durationHours: 2,
      resourceGroupName: 'contoso-testdrive',
      logicAppName: 'provision-testdrive',
      deprovisionLogicAppName: 'deprovision-testdrive',
      accessInformation: '<p>Sign in at {{url}} as {{userName}} / {{password}}.</p>',
    },
  });

/**
 * Validates the `testDrive` and `deployment` sections of PUT /offers/{id} for a Logic app test drive.
 *
 * Rules: region a known ARM location (config/regions.json, compared trimmed in lower case; Partner
 * Center: a single region); maxConcurrent whole 1-99; durationHours whole 1-99 (Partner Center: whole
 * hours only); resourceGroupName 1-90 and Logic App names 1-80 characters from letters, digits
 * `_ - . ( )`, the group not ending in '.' (Azure naming rules), the two Logic Apps distinct (compared
 * case-insensitively, as Azure names are); description <= 3,000 and
 * accessInformation <= 10,000 characters (Partner Center); deployment subscriptionId, tenantId and
 * clientId GUIDs, clientSecret 1-1024 characters (optional here: the offers service requires it on
 * create). Unknown fields are refused.
 *
 * @returns the normalised config (region and GUIDs lower-cased, no secret), or every problem found,
 *   each with its full field path ("testDrive.maxConcurrent", "deployment.tenantId").
 */
export function validateLogicAppConfig(testDrive: Record<string, unknown>, deployment: Record<string, unknown> | undefined): ValidatedTestDriveConfig | ErrorDetail[] {
  return validateTestDriveConfig(
    {
      testDrive: { schema: logicAppTestDriveSchema, input: testDrive },
      deployment: { schema: azureDeploymentSchema, input: deployment, requiredMessage: AZURE_DEPLOYMENT_REQUIRED },
    },
    ({ testDrive: t, deployment: dep }) => ({
      testDrive: {
        type: LOGIC_APP_TEST_DRIVE_TYPE,
        region: t.region,
        maxConcurrent: t.maxConcurrent,
        durationHours: t.durationHours,
        resourceGroupName: t.resourceGroupName,
        logicAppName: t.logicAppName,
        deprovisionLogicAppName: t.deprovisionLogicAppName,
        ...optionalTextsOf(t),
      } satisfies LogicAppTestDriveConfig,
      deployment: azureDeploymentOf(dep),
    }),
  );
}

/** Reads an offer's stored testDrive as a LogicAppTestDriveConfig (stored values were validated on write). */
export function logicAppConfigOf(testDrive: Record<string, unknown>): LogicAppTestDriveConfig {
  return testDrive as unknown as LogicAppTestDriveConfig;
}
