import { z } from 'zod';
import { ErrorDetail } from '../../src/common/api-error';
import { durationHoursSchema } from '../../src/common/validation';
import { jsonSchemaOf } from '../../src/common/openapi';
import { accessInformationSchema, AZURE_DEPLOYMENT_REQUIRED, azureDeploymentOf, azureDeploymentSchema, CLIENT_SECRET_MAX_CHARS, descriptionSchema, knownRegionSchema, MAX_ACCESS_INFORMATION_CHARS, MAX_DESCRIPTION_CHARS, optionalTextsOf, validateTestDriveConfig } from '../../src/test-drives/config-schemas';
import type { ValidatedTestDriveConfig } from '../../src/test-drives/test-drive-type';
import { hotBounds, HotSetting } from './pools/hot-policy';

/** Wire name of the Azure Resource Manager test drive type. */
export const ARM_TEST_DRIVE_TYPE = 'azure-resource-manager' as const;

/** Partner Center: 26 Azure regions are offered. */
export const ARM_MAX_REGIONS = 26;
/** Partner Center: hot / cold instance counts are 0-99 each, per region. */
export const ARM_MAX_INSTANCES_PER_KIND = 99;
/** Partner Center: test drive description up to 3,000 characters. */
export const ARM_MAX_DESCRIPTION_CHARS = MAX_DESCRIPTION_CHARS;
/** Partner Center: access information up to 10,000 characters. */
export const ARM_MAX_ACCESS_INFORMATION_CHARS = MAX_ACCESS_INFORMATION_CHARS;
/** Ours: Azure client secrets are at most a few hundred characters; 1024 leaves room. */
export { CLIENT_SECRET_MAX_CHARS };

/** One region of an ARM test drive and its pool sizes. */
export interface ArmRegionConfig {
  /** ARM location name, lower case (config/regions.json). */
  name: string;
  /**
   * Instances kept deployed and waiting (access in under 10 seconds): a fixed count 0-99, or (issue 15)
   * `{policy: 'forecast', min, max, maxInstanceHoursPerDay?}`, the service choosing the count within the
   * bounds from the region's start history (pools/hot-policy.ts). hotBounds() gives {min, max} of either.
   */
  hot: HotSetting;
  /**
   * Instances deployed ahead with their virtual machines deallocated (cheap while waiting), started on
   * request in minutes (Partner Center: warm instances, 3-10 minutes). 0-99; needs a template with
   * virtual machines. Absent in offers stored before issue 12: 0.
   */
  warm?: number;
  /** Instances deployed on request; the total that can possibly be deployed in this region. 0-99. */
  cold: number;
}

/** Normalised settings of an ARM test drive (stored as offer.testDrive; no secret). */
export interface ArmTestDriveConfig {
  type: 'azure-resource-manager';
  /** Whole hours, 1-99 (Partner Center: whole hours only). */
  durationHours: number;
  regions: ArmRegionConfig[];
  /** Shown to customers; at most 3,000 characters. */
  description?: string;
  /** Access information with `{{outputName}}` placeholders (HTML recommended); at most 10,000 characters. */
  accessInformation?: string;
}

/** Deployment subscription details of an ARM test drive, without the client secret. */
export interface ArmDeployment {
  subscriptionId: string;
  tenantId: string;
  clientId: string;
}

const count = (what: string) =>
  z
    .number({ message: `${what} must be a whole number 0-${ARM_MAX_INSTANCES_PER_KIND}` })
    .int(`${what} must be a whole number (Partner Center: 0-${ARM_MAX_INSTANCES_PER_KIND} instances per region)`)
    .min(0, `${what} must be at least 0`)
    .max(ARM_MAX_INSTANCES_PER_KIND, `${what} must be at most ${ARM_MAX_INSTANCES_PER_KIND} (Partner Center limit per region)`);

/** Ours: a cost cap needs room for at least one instance; 99 instances x 24 hours is the most a region can spend. */
export const ARM_MAX_INSTANCE_HOURS_PER_DAY = ARM_MAX_INSTANCES_PER_KIND * 24;

/** testDrive.regions[].hot as a forecast policy (issue 15; pools/hot-policy.ts). */
const hotForecastSchema = z
  .strictObject({
    policy: z.literal('forecast', { message: 'hot.policy must be "forecast" (or give hot as a whole number)' }).meta({ description: 'The service chooses the hot count within [min, max] from the region\'s start history.' }),
    min: count('hot.min').meta({ description: `Fewest hot instances, 0-${ARM_MAX_INSTANCES_PER_KIND}; never scaled below.`, example: 1 }),
    max: count('hot.max').min(1, 'hot.max must be at least 1').meta({ description: `Most hot instances, 1-${ARM_MAX_INSTANCES_PER_KIND}, at least min.`, example: 10 }),
    maxInstanceHoursPerDay: z
      .number({ message: 'hot.maxInstanceHoursPerDay must be a number of instance-hours' })
      .positive('hot.maxInstanceHoursPerDay must be more than 0')
      .max(ARM_MAX_INSTANCE_HOURS_PER_DAY, `hot.maxInstanceHoursPerDay must be at most ${ARM_MAX_INSTANCE_HOURS_PER_DAY} (99 instances x 24 hours)`)
      .optional()
      .meta({ description: 'Optional cost cap: hot instance-hours over the last 24 hours beyond which the pool holds at min.', example: 120 }),
  })
  .refine((p) => !(Number.isInteger(p.min) && Number.isInteger(p.max)) || p.min <= p.max, { message: 'hot.min must be at most hot.max', path: ['min'] })
  .meta({ description: 'A hot pool sized by forecast (issue 15).', example: { policy: 'forecast', min: 1, max: 10 } });

const HOT_SETTING_RULE = `hot must be a whole number 0-${ARM_MAX_INSTANCES_PER_KIND} or {"policy": "forecast", "min": n, "max": n}`;

/**
 * testDrive.regions[].hot: a fixed count or a forecast policy. An object is checked as the policy and
 * anything else as the count, so each problem names its own field ("hot.max", not "hot"); the API
 * description is the union of both.
 */
const hotSettingSchema = z
  .unknown()
  .transform((v, ctx): HotSetting => {
    const r = typeof v === 'object' && v !== null && !Array.isArray(v) ? hotForecastSchema.safeParse(v) : typeof v === 'number' ? count('hot').safeParse(v) : null;
    if (r?.success) return r.data;
    for (const issue of r?.error.issues ?? [{ code: 'custom' as const, path: [], message: HOT_SETTING_RULE }]) ctx.addIssue(issue as never);
    return z.NEVER;
  })
  .meta({
    description: `Instances kept deployed and waiting (access in under 10 seconds): a fixed count 0-${ARM_MAX_INSTANCES_PER_KIND}, or {"policy": "forecast", "min", "max", "maxInstanceHoursPerDay"} to let the service size the pool from the region's start history (issue 15).`,
    example: 2,
    anyOf: [jsonSchemaOf(count('hot')), jsonSchemaOf(hotForecastSchema)],
  });

const regionSchema = z
  .strictObject({
    name: knownRegionSchema('region name').meta({ description: 'ARM location name (config/regions.json), compared in lower case; each region once.', example: 'westeurope' }),
    hot: hotSettingSchema,
    warm: count('warm')
      .default(0)
      .meta({
        description: `Instances deployed ahead with their virtual machines deallocated, started on request (3-10 minutes; Partner Center billing states W- and WA), 0-${ARM_MAX_INSTANCES_PER_KIND}, default 0. Needs a template with virtual machines (checked at publish).`,
        example: 1,
      }),
    cold: count('cold').meta({
      description: `Instances deployed on request (the most that can be deployed on request in this region), 0-${ARM_MAX_INSTANCES_PER_KIND}. hot + warm + cold must be at least 1.`,
      example: 5,
    }),
  })
  .superRefine((r, ctx) => {
    const valid = (n: number) => Number.isInteger(n) && n >= 0 && n <= ARM_MAX_INSTANCES_PER_KIND;
    const hotMax = typeof r.hot === 'number' ? r.hot : r.hot.max;
    if (valid(hotMax) && valid(r.cold) && valid(r.warm) && hotMax + r.warm + r.cold < 1) {
      ctx.addIssue({ code: 'custom', path: ['hot'], message: 'A region needs at least one instance: hot + warm + cold must be at least 1.' });
    }
  })
  .meta({ description: 'One region of the test drive and its pool sizes.' });

/**
 * The `testDrive` section of an ARM test drive as validateArmConfig parses it (region names are
 * lower-cased and access information sanitised by its transforms); also its API description.
 */
export const armTestDriveSchema = z
  .strictObject({
    type: z.literal(ARM_TEST_DRIVE_TYPE),
    durationHours: durationHoursSchema.meta({ description: 'Whole hours, 1-99 (Partner Center: "1.5" is not valid).', example: 2 }),
    regions: z
      .array(regionSchema, { message: 'regions must be a list of {name, hot, warm, cold}' })
      .min(1, 'At least one region is required.')
      .max(ARM_MAX_REGIONS, `At most ${ARM_MAX_REGIONS} regions (Partner Center limit).`)
      .meta({ description: `1-${ARM_MAX_REGIONS} regions, each listed once.` }),
    description: descriptionSchema,
    accessInformation: accessInformationSchema,
  })
  .meta({
    description:
      "Azure Resource Manager test drive: each session gets a deployment of the offer's template package (PUT /offers/{offerId}/package) in a new resource group; " +
      'hot instances are kept deployed per region, cold ones deployed on request. Deployment: the AzureDeployment section.',
    example: {
      type: ARM_TEST_DRIVE_TYPE,
      durationHours: 2,
      regions: [
        { name: 'westeurope', hot: 2, cold: 5 },
        { name: 'eastus', hot: 0, cold: 3 },
      ],
      description: 'Try Contoso CRM for two hours.',
      accessInformation: '<p>Open {{siteUrl}} and sign in as {{userName}} / {{password}}.</p>',
    },
  });

/**
 * Validates the `testDrive` and `deployment` sections of PUT /offers/{id} for an ARM test drive.
 *
 * Rules: durationHours whole hours 1-99 (Partner Center: whole hours only); 1-26 regions (Partner
 * Center offers 26), each a known ARM location (config/regions.json, compared in lower case) listed
 * once, with hot and cold whole numbers 0-99 and hot + cold >= 1; description <= 3,000 and
 * accessInformation <= 10,000 characters (Partner Center); deployment subscriptionId, tenantId and
 * clientId GUIDs, clientSecret 1-1024 characters (optional here: the offers service requires it on
 * create). Unknown fields are refused.
 *
 * @returns the normalised config (region names lower-cased, GUIDs lower-cased, no secret), or every
 *   problem found, each with its full field path ("testDrive.regions[1].hot", "deployment.tenantId").
 */
export function validateArmConfig(testDrive: Record<string, unknown>, deployment: Record<string, unknown> | undefined): ValidatedTestDriveConfig | ErrorDetail[] {
  return validateTestDriveConfig(
    {
      testDrive: { schema: armTestDriveSchema, input: testDrive },
      crossChecks: duplicateRegions(testDrive?.regions),
      deployment: { schema: azureDeploymentSchema, input: deployment, requiredMessage: AZURE_DEPLOYMENT_REQUIRED },
    },
    ({ testDrive: t, deployment: dep }) => ({
      testDrive: { type: ARM_TEST_DRIVE_TYPE, durationHours: t.durationHours, regions: t.regions.map((r) => ({ name: r.name, hot: normalHot(r.hot), ...(r.warm ? { warm: r.warm } : {}), cold: r.cold })), ...optionalTextsOf(t) } satisfies ArmTestDriveConfig,
      deployment: azureDeploymentOf(dep) satisfies ArmDeployment,
    }),
  );
}

/** Regions listed twice (names compared trimmed, in lower case), checked on the raw input so they are reported with other problems. */
function duplicateRegions(regions: unknown): ErrorDetail[] {
  if (!Array.isArray(regions)) return [];
  const seen = new Map<string, number>();
  const out: ErrorDetail[] = [];
  regions.forEach((r: unknown, i) => {
    const raw = r && typeof r === 'object' ? (r as { name?: unknown }).name : undefined;
    if (typeof raw !== 'string' || !raw.trim()) return;
    const name = raw.trim().toLowerCase();
    const first = seen.get(name);
    if (first !== undefined) {
      out.push({ code: 'DuplicateRegion', target: `testDrive.regions[${i}].name`, message: `Region '${name}' is listed twice (also at testDrive.regions[${first}]).` });
    } else seen.set(name, i);
  });
  return out;
}

/** Reads an offer's stored testDrive as an ArmTestDriveConfig (stored values were validated on write). */
export function armConfigOf(testDrive: Record<string, unknown>): ArmTestDriveConfig {
  return testDrive as unknown as ArmTestDriveConfig;
}

/** A forecast policy with only the fields given (no undefined keys stored), or the fixed count. */
function normalHot(hot: HotSetting): HotSetting {
  if (typeof hot === 'number') return hot;
  return { policy: 'forecast', min: hot.min, max: hot.max, ...(hot.maxInstanceHoursPerDay !== undefined ? { maxInstanceHoursPerDay: hot.maxInstanceHoursPerDay } : {}) };
}

/**
 * Most instances a region can hold at once: the hot maximum (a fixed count, or a forecast policy's max)
 * + warm + cold (Partner Center: hot + cold is the region's concurrency).
 */
export function regionLimit(r: ArmRegionConfig): number {
  return hotBounds(r.hot).max + (r.warm ?? 0) + r.cold;
}
