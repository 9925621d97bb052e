import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { OfferHealth } from './offer.entity';

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
      .refine((s) => s.trim().length > 0, 'alias must not be blank'),
    testDrive: z.looseObject(
      { type: z.string({ message: 'testDrive.type must be a string naming the test drive type, e.g. "azure-resource-manager"' }) },
      { message: 'testDrive must be an object with a "type"' },
    ),
    deployment: z.record(z.string(), z.unknown(), { message: 'deployment must be an object' }).optional(),
  },
  { message: 'The body must be a JSON object {alias, testDrive, deployment}' },
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

// ---- OpenAPI shapes (documentation only; validation is the zod schema and the type's validator) ----

export class ArmRegionDoc {
  @ApiProperty({ example: 'westeurope', description: 'ARM location name (config/regions.json).' })
  name!: string;
  @ApiProperty({ example: 2, minimum: 0, maximum: 99, description: 'Instances kept deployed and waiting.' })
  hot!: number;
  @ApiProperty({ example: 5, minimum: 0, maximum: 99, description: 'Instances deployed on request (the most that can be deployed on request).' })
  cold!: number;
}

export class TestDriveDoc {
  @ApiProperty({ example: 'azure-resource-manager', description: 'Test drive type; other fields depend on it.' })
  type!: string;
  @ApiPropertyOptional({ example: 2, minimum: 1, maximum: 99, description: 'Whole hours (Partner Center: "1.5" is not valid).' })
  durationHours?: number;
  @ApiPropertyOptional({ type: [ArmRegionDoc], description: 'ARM: 1-26 regions.' })
  regions?: ArmRegionDoc[];
  @ApiPropertyOptional({ maxLength: 3000 })
  description?: string;
  @ApiPropertyOptional({ maxLength: 10000, description: 'Access information shown to customers, with {{outputName}} placeholders.' })
  accessInformation?: string;
}

export class DeploymentInputDoc {
  @ApiPropertyOptional({ example: '00000000-0000-0000-0000-000000000001' })
  subscriptionId?: string;
  @ApiProperty({ example: '00000000-0000-0000-0000-000000000002' })
  tenantId!: string;
  @ApiProperty({ example: '00000000-0000-0000-0000-000000000003' })
  clientId!: string;
  @ApiPropertyOptional({
    example: 'app-client-secret',
    description: 'Required on create; on update optional (the current one is kept). Stored in Key Vault only, never returned.',
  })
  clientSecret?: string;
}

export class PutOfferDoc {
  @ApiProperty({ example: 'Contoso CRM demo', maxLength: 50 })
  alias!: string;
  @ApiProperty({ type: TestDriveDoc })
  testDrive!: TestDriveDoc;
  @ApiPropertyOptional({ type: DeploymentInputDoc })
  deployment?: DeploymentInputDoc;
}

export class DeploymentViewDoc {
  @ApiPropertyOptional({ example: '00000000-0000-0000-0000-000000000001' })
  subscriptionId?: string;
  @ApiProperty({ example: '00000000-0000-0000-0000-000000000002' })
  tenantId!: string;
  @ApiProperty({ example: '00000000-0000-0000-0000-000000000003' })
  clientId!: string;
  @ApiProperty({ example: true, description: 'Whether a client secret is stored (it is never returned).' })
  clientSecretSet!: boolean;
}

export class PackageRevisionSummaryDoc {
  @ApiProperty({ example: '6f1c2f0e-0c55-4c1b-9d67-3f0f9b3a2d11' })
  id!: string;
  @ApiProperty({ example: 1 })
  number!: number;
  @ApiPropertyOptional({ example: 'http://127.0.0.1:10000/devstoreaccount1/pkg-contoso-1-1a2b3c4d/' })
  baseUri?: string;
  @ApiProperty({ example: [{ name: 'adminPassword', armType: 'securestring', metadataType: 'password', hasDefault: false }] })
  parameters!: unknown[];
}

export class OfferViewDoc {
  @ApiProperty({ example: 'contoso-crm' })
  id!: string;
  @ApiProperty({ example: 'Contoso CRM demo' })
  alias!: string;
  @ApiProperty({ enum: ['draft', 'published', 'unpublished'] })
  state!: string;
  @ApiProperty({ type: TestDriveDoc })
  testDrive!: TestDriveDoc;
  @ApiProperty({ type: DeploymentViewDoc })
  deployment!: DeploymentViewDoc;
  @ApiProperty({ type: PackageRevisionSummaryDoc, nullable: true })
  packageRevision!: PackageRevisionSummaryDoc | null;
  @ApiProperty({ type: String, nullable: true, example: null })
  publishedAt!: string | null;
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' })
  createdAt!: string;
  @ApiProperty({ example: '2026-01-01T00:00:00.000Z' })
  updatedAt!: string;
}

export class OfferListDoc {
  @ApiProperty({ type: [OfferViewDoc] })
  value!: OfferViewDoc[];
}

export class ErrorDetailDoc {
  @ApiProperty({ example: 'InvalidField' })
  code!: string;
  @ApiProperty({ example: 'hot must be at most 99 (Partner Center limit per region)' })
  message!: string;
  @ApiPropertyOptional({ example: 'testDrive.regions[0].hot' })
  target?: string;
}

export class ErrorBodyInnerDoc extends ErrorDetailDoc {
  @ApiPropertyOptional({ type: [ErrorDetailDoc] })
  details?: ErrorDetailDoc[];
}

export class ErrorBodyDoc {
  @ApiProperty({ type: ErrorBodyInnerDoc })
  error!: ErrorBodyInnerDoc;
}

/** The JSON shape of an offer in responses (ISO times; never a secret). */
export interface OfferView {
  id: string;
  alias: string;
  state: string;
  testDrive: Record<string, unknown>;
  deployment: Record<string, unknown> & { clientSecretSet: boolean };
  packageRevision: { id: string; number: number; baseUri?: string; parameters: unknown[] } | null;
  publishedAt: string | null;
  createdAt: string;
  updatedAt: string;
  /** Last check against the publisher's environment (types with checkHealth, e.g. Dynamics 365); absent otherwise. */
  health?: OfferHealth;
  /** Publish response only: what the checks warn about (e.g. fewer free licenses than maxConcurrent). */
  warnings?: OfferHealth['warnings'];
}
